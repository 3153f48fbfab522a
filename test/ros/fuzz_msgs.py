"""Malformed sensor messages for the fuzz test: every input topic, every way issue 15 lists.

Each generator returns real ROS messages. Every RGB-D set carries at least one part
that must be rejected, so no fuzz set can ever be fused: answers must not change.
"""

from __future__ import annotations

import random

import numpy as np
import ros_room as room
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField

from geode_ros.ros.conversions import cloud_to_msg, make_header, matrix_to_pose_msg
from geode_ros.scene.image_codec import encode_image

CAM = 'camera_color_optical_frame'
W, H, F = room.WIDTH, room.HEIGHT, room.FOCAL
FAR_FUTURE = float(2**31 - 1)  # Jan 2038: far ahead, and still a valid int32 stamp


def valid_info(stamp: float, **k: float) -> CameraInfo:
    fx, cx = k.get('fx', F), k.get('cx', W / 2)
    return CameraInfo(header=make_header(CAM, stamp), width=W, height=H,
                      distortion_model='plumb_bob',
                      k=[fx, 0.0, cx, 0.0, k.get('fy', fx), H / 2, 0.0, 0.0, 1.0])


def valid_set(T: np.ndarray, stamp: float) -> tuple[Image, Image, CameraInfo]:
    depth = room.render_depth(T)
    header = make_header(CAM, stamp)
    mm = np.where(np.isfinite(depth), np.round(depth * 1000.0), 0).astype(np.uint16)
    return (Image(header=header, **encode_image(room.render_rgb(depth), 'rgb8')),
            Image(header=header, **encode_image(mm, '16UC1')), valid_info(stamp))


def valid_pose(T: np.ndarray, stamp: float) -> PoseStamped:
    return PoseStamped(header=make_header('map', stamp), pose=matrix_to_pose_msg(T))


def _img(stamp: float, encoding: str, h: int, w: int, step: int, data: bytes,
         big: int = 0) -> Image:
    return Image(header=make_header(CAM, stamp), height=h, width=w, encoding=encoding,
                 is_bigendian=big, step=step, data=data)


def bad_rgb(rng: random.Random, s: float) -> Image:
    n = W * H * 3
    return rng.choice([
        lambda: _img(s, 'yuv422', H, W, W * 2, b'\x80' * (W * H * 2)),  # unsupported
        lambda: _img(s, 'no_such_encoding', H, W, W * 3, b'\0' * n),
        lambda: _img(s, 'rgb8', H, W, W * 3 - 1, b'\0' * n),  # step < width*bpp
        lambda: _img(s, 'rgb8', H, W, W * 3, b'\0' * (n // 2)),  # truncated
        lambda: _img(s, 'rgb8', H, W, W * 3, b'\0' * (n * 3)),  # over-long
        lambda: _img(s, 'rgb8', 0, 0, 0, b''),  # zero size
        lambda: _img(s, 'rgb8', 2**30, 2**30, 3 * 2**30, b'\0' * 64),  # huge size
        lambda: _img(s, 'rgb8', H // 2, W // 2, W // 2 * 3, b'\0' * (n // 4)),  # size mismatch
    ])()


def bad_depth(rng: random.Random, s: float) -> Image:
    def f32(value: float) -> Image:
        return Image(header=make_header(CAM, s),
                     **encode_image(np.full((H, W), value, np.float32), '32FC1'))
    return rng.choice([
        lambda: f32(float('nan')), lambda: f32(float('inf')), lambda: f32(-1.0),
        lambda: f32(1e30), lambda: f32(0.0),
        lambda: _img(s, '16UC1', H, W, W * 2, b'\0' * (W * H * 2), big=1),  # zeros, big-endian
        lambda: _img(s, '32FC1', H, W, W * 4, b'\0' * 100),  # truncated
        lambda: _img(s, '8UC3', H, W, W * 3, b'\0' * (W * H * 3)),  # not a depth encoding
    ])()


def bad_info(rng: random.Random, s: float) -> CameraInfo:
    def info(k) -> CameraInfo:
        return CameraInfo(header=make_header(CAM, s), width=W, height=H, k=k)
    nan = float('nan')
    return rng.choice([
        lambda: info([0.0] * 9), lambda: info([nan] * 9),
        lambda: info([F, 0, W / 2, 0, nan, H / 2, 0, 0, 1]),
        lambda: valid_info(s, fx=1e-300), lambda: valid_info(s, cx=1e300),
        lambda: valid_info(s, fx=-F), lambda: valid_info(s, fx=1e12),
        lambda: CameraInfo(header=make_header(CAM, s), width=W * 2, height=H,
                           k=valid_info(s).k),  # size does not match the images
    ])()


def bad_pose(rng: random.Random, s: float) -> PoseStamped:
    msg = valid_pose(room.camera_pose(0.5), s)
    o, p = msg.pose.orientation, msg.pose.position
    kind = rng.randrange(7)
    if kind == 0:
        o.x = float('nan')
    elif kind == 1:
        o.x = o.y = o.z = o.w = 1e200
    elif kind == 2:
        o.x, o.y, o.z, o.w = 0.0, 0.0, 0.0, 0.0
    elif kind == 3:
        o.w = 3.0  # non-unit
    elif kind == 4:
        p.x = 1e30
    elif kind == 5:
        p.y = float('inf')
    else:
        msg.header = make_header('map', FAR_FUTURE)
    return msg


def _cloud(s: float, fields, step: int, width: int, data: bytes, big: bool = False,
           height: int = 1) -> PointCloud2:
    msg = PointCloud2(header=make_header('map', s), height=height, width=width,
                      point_step=step, row_step=step * width, is_bigendian=big, is_dense=False)
    msg.fields = [PointField(name=n, offset=o, datatype=d, count=c) for n, o, d, c in fields]
    msg.data = data
    return msg


def bad_cloud(rng: random.Random, s: float) -> PointCloud2:
    xyz = [('x', 0, 7, 1), ('y', 4, 7, 1), ('z', 8, 7, 1)]
    return rng.choice([
        lambda: _cloud(s, [('x', 0, 7, 1), ('y', 4, 7, 1), ('z', 20, 7, 1)], 16, 4,
                       b'\0' * 64),  # offset past point_step
        lambda: _cloud(s, [('x', 0, 9, 1), ('y', 4, 7, 1), ('z', 8, 7, 1)], 16, 4, b'\0' * 64),
        lambda: _cloud(s, [('x', 0, 0, 1)] + xyz[1:], 16, 4, b'\0' * 64),  # datatype 0
        lambda: _cloud(s, [('x', 0, 7, 0)] + xyz[1:], 16, 4, b'\0' * 64),  # zero count
        lambda: _cloud(s, [('x', 0, 7, 2**31)] + xyz[1:], 16, 4, b'\0' * 64),  # huge count
        lambda: _cloud(s, xyz, 16, 100, b'\0' * 64),  # short data
        lambda: _cloud(s, xyz, 16, 2**31, b'\0' * 64, height=2**31),  # huge dims
        lambda: _cloud(s, xyz, 0, 4, b''),  # zero point_step
        lambda: cloud_to_msg(np.full((50, 3), 1e30, np.float32), None,
                             make_header('map', s)),  # absurd coordinates
        lambda: cloud_to_msg(np.full((50, 3), 5.0, np.float32), None,
                             make_header('map', FAR_FUTURE)),  # far-future stamp
        lambda: _cloud(s, [('a', 0, 7, 1)], 4, 4, b'\0' * 16),  # no x, y, z
    ])()
