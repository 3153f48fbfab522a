from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from geode_ros.errors import GeodeError
from geode_ros.scene import image_codec as ic
from geode_ros.scene.types import CameraIntrinsics

RNG = np.random.default_rng(1)
RGB = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)


def msg(**kw):
    return SimpleNamespace(**kw)


@pytest.mark.parametrize('enc', ['rgb8', 'bgr8', 'rgba8', 'bgra8'])
@pytest.mark.parametrize('pad', [0, 3])
@pytest.mark.parametrize('big', [False, True])
def test_colour_round_trip(enc, pad, big):
    m = msg(**ic.encode_image(RGB, enc, is_bigendian=big, row_padding=pad))
    assert m.step >= RGB.shape[1] * len(enc.rstrip('8'))
    assert np.array_equal(ic.decode_image(m), RGB)
    assert np.array_equal(ic.decode_rgb(m), RGB)


def test_bgr_byte_order_is_real():
    m = ic.encode_image(RGB, 'bgr8')
    raw = np.frombuffer(m['data'], np.uint8).reshape(5, 7, 3)
    assert np.array_equal(raw, RGB[..., ::-1])


@pytest.mark.parametrize('big', [False, True])
@pytest.mark.parametrize('enc', ['16UC1', 'mono16'])
def test_depth_16u(enc, big):
    mm = RNG.integers(0, 5000, (4, 6), dtype=np.uint16)
    m = msg(**ic.encode_image(mm, enc, is_bigendian=big, row_padding=2))
    assert np.array_equal(ic.decode_image(m), mm)
    assert np.allclose(ic.decode_depth(m), mm * 0.001)
    if big:
        assert np.frombuffer(m.data, np.uint8)[0] == mm[0, 0] >> 8


def test_depth_32f_and_list_data():
    d = RNG.random((3, 4)).astype(np.float32)
    m = ic.encode_image(d, '32FC1')
    m['data'] = list(m['data'])  # rclpy may hand over a list / array.array
    assert np.array_equal(ic.decode_depth(m), d)


def test_mono8_to_rgb():
    g = RNG.integers(0, 256, (3, 4), dtype=np.uint8)
    rgb = ic.decode_rgb(ic.encode_image(g, 'mono8'))
    assert rgb.shape == (3, 4, 3) and np.array_equal(rgb[..., 1], g)


@pytest.mark.parametrize('change, text', [
    ({'encoding': 'yuv422'}, 'unsupported image encoding'),
    ({'step': 10}, 'step'),
    ({'data': b'\0' * 7}, 'size mismatch'),
    ({'height': 0}, 'empty'),
])
def test_errors(change, text):
    m = {**ic.encode_image(RGB, 'rgb8'), **change}
    with pytest.raises(GeodeError, match=text):
        ic.decode_image(msg(**m))


def test_wrong_kind_errors():
    with pytest.raises(GeodeError):
        ic.decode_depth(ic.encode_image(RGB, 'rgb8'))
    with pytest.raises(GeodeError):
        ic.decode_rgb(ic.encode_image(np.zeros((2, 2), np.float32), '32FC1'))


def test_compressed():
    ok, png = cv2.imencode('.png', RGB[..., ::-1])
    out = ic.decode_compressed_image(msg(format='png', data=png.tobytes()))
    assert np.array_equal(out, RGB)
    with pytest.raises(GeodeError):
        ic.decode_compressed_image(msg(format='jpeg', data=b'garbage'))
    mm = RNG.integers(1, 4000, (4, 5), dtype=np.uint16)
    ok, dpng = cv2.imencode('.png', mm)
    payload = np.zeros(12, np.uint8).tobytes() + dpng.tobytes()
    depth = ic.decode_compressed_image(msg(format='16UC1; compressedDepth png', data=payload))
    assert np.allclose(depth, mm * 0.001)


def test_camera_info():
    info = msg(width=640, height=480, k=[500, 0, 320, 0, 510, 240, 0, 0, 1], d=[0.1, 0, 0, 0, 0],
               distortion_model='plumb_bob')
    intr = ic.intrinsics_from_camera_info(info)
    assert (intr.fx, intr.fy, intr.cx, intr.cy) == (500, 510, 320, 240)
    assert intr.has_distortion
    with pytest.raises(GeodeError, match='missing intrinsics'):
        ic.intrinsics_from_camera_info(msg(width=640, height=480, k=[0] * 9, d=[],
                                           distortion_model=''))


def test_undistort():
    intr = CameraIntrinsics(40, 40, 16, 12, 32, 24)
    img = RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    assert ic.undistort(img, intr) is img
    dist = CameraIntrinsics(40, 40, 16, 12, 32, 24, distortion=(0.2, 0.0, 0.0, 0.0, 0.0))
    depth = np.full((24, 32), 2.0, np.float32)
    out = ic.undistort(depth, dist)
    assert out.shape == depth.shape and set(np.unique(out)) <= {0.0, 2.0}  # nearest
    assert ic.undistort(img, dist).shape == img.shape
