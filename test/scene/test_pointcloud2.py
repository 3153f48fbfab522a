"""PointCloud2 codec: semantics of sensor_msgs_py.point_cloud2, hand-derived expectations."""

import struct
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geode_ros.errors import GeodeError
from geode_ros.scene import pointcloud2 as pc
from geode_ros.scene.pointcloud2 import PointCloud2Data, PointField

XYZ = [PointField('x', 0, 7, 1), PointField('y', 4, 7, 1), PointField('z', 8, 7, 1)]


def test_create_cloud_xyz32_layout_and_read():
    pts = [(1.0, 2.0, 3.0), (4.0, np.nan, 6.0)]
    c = pc.create_cloud_xyz32(pc.Header('cam', 1.5), pts)
    assert (c.height, c.width, c.point_step, c.row_step) == (1, 2, 12, 24)
    assert c.is_bigendian == (sys.byteorder != 'little') and c.is_dense is False
    assert c.data[:12] == struct.pack('=fff', 1.0, 2.0, 3.0)
    out = pc.read_points(c)
    assert out.dtype.names == ('x', 'y', 'z') and len(out) == 2
    assert len(pc.read_points(c, skip_nans=True)) == 1
    c.is_dense = True  # the reference only skips NaNs on non-dense clouds
    assert len(pc.read_points(c, skip_nans=True)) == 2
    assert pc.read_points_numpy(c, ['x', 'z']).tolist() == [[1.0, 3.0], [4.0, 6.0]]
    assert pc.read_points_list(c, ['z'])[0].z == 3.0
    assert pc.header_frame_stamp(c.header) == ('cam', 1.5)


def test_big_endian_padding_count_and_mixed_types():
    # point: int16 'i' at 0, 2 pad bytes, float64 'v' at 4 (unaligned), uint8[3] 'c' at 12, pad
    fields = [PointField('i', 0, PointField.INT16, 1), PointField('v', 4, PointField.FLOAT64, 1),
              PointField('c', 12, PointField.UINT8, 3)]
    rows = [(-5, 1.25, (1, 2, 3)), (7, -2.5, (9, 8, 7))]
    data = b''.join(struct.pack('>h2xdBBB5x', i, v, *c) for i, v, c in rows)
    cloud = PointCloud2Data(pc.Header(), 1, 2, fields, True, 20, 40, data, True)
    out = pc.read_points(cloud)
    assert out.dtype.names == ('i', 'v', 'c_0', 'c_1', 'c_2')
    assert out['i'].tolist() == [-5, 7] and out['v'].tolist() == [1.25, -2.5]
    assert out['c_2'].tolist() == [3, 7] and out.dtype['v'].isnative
    with pytest.raises(GeodeError, match='same datatype'):
        pc.read_points_numpy(cloud)
    assert pc.read_points_numpy(cloud, ['c_0']).ravel().tolist() == [1, 9]


def test_organised_round_trip_and_uvs():
    grid = np.arange(24, dtype=np.float32).reshape(4, 2, 3)  # width 4, height 2 (reference)
    c = pc.create_cloud(None, XYZ, grid)
    assert (c.width, c.height) == (4, 2)
    org = pc.read_points(c, reshape_organized_cloud=True)
    assert org.shape == (4, 2)
    assert np.array_equal(pc.read_points_numpy(c, reshape_organized_cloud=True), grid)
    assert pc.read_points(c, uvs=[5])['x'].tolist() == [15.0]
    with pytest.raises(GeodeError):
        pc.read_points(c, uvs=[99])


def test_row_step_padding_is_honoured():
    a = struct.pack('<fff', 1, 2, 3) + struct.pack('<fff', 4, 5, 6)
    data = a + b'\xff' * 8 + a
    c = PointCloud2Data(None, 2, 2, XYZ, False, 12, 32, data, False)
    assert pc.read_points_numpy(c)[:, 0].tolist() == [1, 4, 1, 4]


def test_structured_create_and_errors():
    dt = pc.dtype_from_fields(XYZ)
    arr = np.zeros(3, dt)
    arr['z'] = [1, 2, 3]
    c = pc.create_cloud(None, XYZ, arr)
    assert pc.read_points(c)['z'].tolist() == [1, 2, 3]
    bad = [
        PointCloud2Data(None, 1, 1, [PointField('x', 0, 9, 1)], False, 4, 4, b'\0' * 4),
        PointCloud2Data(None, 1, 1, [PointField('x', 0, 7, 0)], False, 4, 4, b'\0' * 4),
        PointCloud2Data(None, 1, 2, XYZ, False, 12, 24, b'\0' * 12),
        PointCloud2Data(None, 1, 1, XYZ, False, 8, 8, b'\0' * 8),
        PointCloud2Data(None, 1, 1, [XYZ[0], XYZ[0]], False, 4, 4, b'\0' * 4),
    ]
    for cloud in bad:
        with pytest.raises(GeodeError):
            pc.read_points(cloud)
    with pytest.raises(GeodeError):
        pc.read_points(pc.create_cloud_xyz32(None, [(1, 2, 3)]), ['w'])


@pytest.mark.parametrize('rgb_type', [PointField.FLOAT32, PointField.UINT32])
@pytest.mark.parametrize('name', ['rgb', 'rgba'])
def test_xyz_rgb_packed(rgb_type, name):
    xyz = np.array([[1, 2, 3], [np.nan, 0, 0], [4, 5, 6]], np.float32)
    colours = np.array([[255, 0, 10], [1, 1, 1], [3, 128, 200]], np.uint8)
    packed = pc.pack_rgb(colours).view(np.uint32) | np.uint32(0xFF000000)
    dt = np.dtype({'names': ['x', 'y', 'z', name], 'formats': ['f4', 'f4', 'f4',
                  'f4' if rgb_type == 7 else 'u4'], 'offsets': [0, 4, 8, 16], 'itemsize': 32})
    arr = np.zeros(3, dt)
    arr['x'], arr['y'], arr['z'] = xyz.T
    arr[name] = packed.view(arr[name].dtype)
    fields = XYZ + [PointField(name, 16, rgb_type, 1)]
    c = pc.create_cloud(None, fields, arr, point_step=32)
    assert c.point_step == 32
    out_xyz, out_rgb = pc.xyz_rgb_from_cloud(c)
    assert np.array_equal(out_xyz, xyz[[0, 2]]) and np.array_equal(out_rgb, colours[[0, 2]])


def test_xyz_rgb_without_colour():
    xyz, rgb = pc.xyz_rgb_from_cloud(pc.create_cloud_xyz32(None, [(1, 2, 3)]))
    assert rgb is None and xyz.dtype == np.float32
    with pytest.raises(GeodeError, match='x, y, z'):
        pc.xyz_rgb_from_cloud(pc.create_cloud(None, [PointField('a', 0, 7, 1)], [(1.0,)]))


@st.composite
def layouts(draw):
    n_fields = draw(st.integers(1, 4))
    fields, offset = [], 0
    for i in range(n_fields):
        dt = draw(st.integers(1, 8))
        count = draw(st.integers(1, 3))
        offset += draw(st.integers(0, 3))
        fields.append(PointField(f'f{i}', offset, dt, count))
        offset += pc.DATATYPES[dt].itemsize * count
    return fields, offset + draw(st.integers(0, 5))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts(), st.integers(1, 4), st.integers(1, 5), st.booleans(), st.randoms())
def test_fuzz_round_trip(layout, width, height, big, rnd):
    fields, step = layout
    raw = bytes(rnd.getrandbits(8) for _ in range(step * width * height))
    cloud = PointCloud2Data(None, height, width, fields, big, step, step * width, raw, False)
    pts = pc.read_points(cloud)
    again = pc.create_cloud(None, fields, pts.reshape(width * height), point_step=step)
    back = pc.read_points(again)
    for name in pts.dtype.names:  # bitwise equal, NaN payloads included
        assert pts[name].tobytes() == back[name].tobytes()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=2), st.integers(-2, 40), st.integers(-1, 10),
                          st.integers(-1, 3)), max_size=4),
       st.integers(-1, 4), st.integers(-1, 4), st.integers(-1, 40), st.integers(-5, 200),
       st.binary(max_size=200), st.booleans(), st.booleans())
def test_fuzz_garbage_only_geode_error(fields, h, w, step, row, data, big, dense):
    cloud = PointCloud2Data(None, h, w, [PointField(*f) for f in fields], big, step, row, data,
                            dense)
    for fn in (lambda: pc.read_points(cloud, skip_nans=True), lambda: pc.xyz_rgb_from_cloud(cloud),
               lambda: pc.read_points_numpy(cloud), lambda: pc.read_points_list(cloud)):
        try:
            fn()
        except GeodeError:
            pass
