"""PointCloud2 codec checked against the reference ``sensor_msgs_py`` (jazzy) on real messages.

The reference is not on PyPI; ``../shared/ros2-cli/install.sh .venv`` installs it. Without
it the comparisons skip (with that reason); the project-only checks below always run.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geode_ros.errors import GeodeError
from geode_ros.scene import pointcloud2 as pc
from geode_ros.scene.pointcloud2 import PointCloud2Data, PointField

try:
    from sensor_msgs.msg import PointCloud2 as PointCloud2Msg
    from sensor_msgs.msg import PointField as PointFieldMsg
    from sensor_msgs_py import point_cloud2 as ref
    from std_msgs.msg import Header as HeaderMsg
except ImportError:  # pragma: no cover - depends on the test machine
    ref = None
needs_ref = pytest.mark.skipif(
    ref is None, reason='reference sensor_msgs_py absent: run ../shared/ros2-cli/install.sh .venv')

XYZ_PAD = [PointField('x', 0, 7, 1), PointField('y', 4, 7, 1), PointField('z', 8, 7, 1)]


def _padding_mask(dtype: np.dtype) -> np.ndarray:
    """True at each byte of one point that no field covers."""
    pad = np.ones(dtype.itemsize, bool)
    for name in dtype.names:
        sub, off = dtype.fields[name][:2]
        pad[off:off + sub.itemsize] = False
    return pad


def _dirty_heap():
    """Leave freed memory full of 0xAB so an uninitialised buffer would show it."""
    junk = [np.full(n, 0xAB, np.uint8) for n in (64, 256, 1600, 16_000, 160_000) * 20]
    del junk


def test_create_cloud_zero_fills_padding():
    dt = pc.dtype_from_fields(XYZ_PAD, point_step=16)
    rng = np.random.default_rng(0)
    for n in (1, 4, 100, 1000, 10_000):
        xyz = rng.normal(size=(n, 3)).astype(np.float32)
        structured = np.zeros(n, dt)
        for k, name in enumerate('xyz'):
            structured[name] = xyz[:, k]
        for points in (xyz, structured, xyz.reshape(n, 1, 3), [tuple(p) for p in xyz[:50]]):
            _dirty_heap()
            cloud = pc.create_cloud(None, XYZ_PAD, points, point_step=16)
            raw = np.frombuffer(cloud.data, np.uint8).reshape(-1, 16)
            assert not raw[:, _padding_mask(dt)].any(), 'padding bytes must be zero'
            back = pc.read_points_numpy(cloud).reshape(-1, 3)
            np.testing.assert_array_equal(back, xyz[:len(back)])


def test_huge_field_counts_fail_fast_and_linearly():
    """A header that claims 2**31 values per point costs no more than a small one."""
    cases = [
        PointCloud2Data(None, 1, 1, [PointField('x', 0, 7, 2**31)], False, 16, 16, b'\0' * 16),
        PointCloud2Data(None, 1, 0, [PointField('x', 0, 7, 2**31)], False, 2**40, 0, b''),
        PointCloud2Data(None, 1, 1, [PointField('x', 2**40, 7, 1)], False, 16, 16, b'\0' * 16),
        PointCloud2Data(None, 2**20, 2**20, XYZ_PAD, False, 16, 16, b'\0' * 16),
    ]
    for cloud in cases:
        t0 = time.perf_counter()
        with pytest.raises(GeodeError):
            pc.read_points(cloud)
        assert time.perf_counter() - t0 < 0.05
    wide = [PointField('d', 0, PointField.UINT8, pc.MAX_SUBFIELDS)]
    cloud = PointCloud2Data(None, 1, 2, wide, False, pc.MAX_SUBFIELDS, 2 * pc.MAX_SUBFIELDS,
                            bytes(range(256)) * (2 * pc.MAX_SUBFIELDS // 256))
    assert pc.read_points_numpy(cloud).shape == (2, pc.MAX_SUBFIELDS)
    with pytest.raises(GeodeError, match='more than'):
        pc.dtype_from_fields(wide + [PointField('e', 0, 2, 1)])


def test_bad_arguments_raise_geode_error_naming_the_argument():
    cloud = pc.create_cloud(None, XYZ_PAD, np.zeros((3, 3), np.float32), point_step=16)
    calls = {
        'cloud': lambda: pc.read_points(object()),
        'field_names': lambda: pc.read_points(cloud, field_names=5),
        'field_names ': lambda: pc.read_points(cloud, field_names=[1]),
        'uvs': lambda: pc.read_points(cloud, uvs=5),
        'uvs ': lambda: pc.read_points(cloud, uvs=['a']),
        'uvs  ': lambda: pc.read_points(cloud, uvs=np.array([0.5])),
        'uvs   ': lambda: pc.read_points(cloud, uvs=np.array([True, False])),
        'uvs    ': lambda: pc.read_points(cloud, uvs=[3]),
        'fields': lambda: pc.create_cloud(None, 5, [(1.0,)]),
        'fields[0]': lambda: pc.create_cloud(None, [object()], [(1.0,)]),
        'point_step': lambda: pc.create_cloud(None, XYZ_PAD, [(1, 2, 3)], point_step='16'),
        'point_step ': lambda: pc.create_cloud(None, XYZ_PAD, [(1, 2, 3)], point_step=8),
        'points': lambda: pc.create_cloud(None, XYZ_PAD, 5),
        'points ': lambda: pc.create_cloud(None, XYZ_PAD, np.zeros(3, np.float32)),
        'points  ': lambda: pc.create_cloud(None, XYZ_PAD, np.zeros(2, pc.dtype_from_fields(
            XYZ_PAD, point_step=16))),  # itemsize 16, the fields alone make 12
    }
    for arg, call in calls.items():
        with pytest.raises(GeodeError) as exc:
            call()
        what = arg.strip()
        assert what.split('[')[0] in str(exc.value) or what == 'point_step' and 'past' in str(
            exc.value), (arg, str(exc.value))


def test_boolean_uvs_on_any_size():
    for n in (1, 2, 7):
        cloud = pc.create_cloud_xyz32(None, np.arange(3 * n, dtype=np.float32).reshape(n, 3))
        mask = np.arange(n) % 2 == 0
        out = pc.read_points(cloud, uvs=mask)
        assert out['x'].tolist() == np.arange(0, 3 * n, 3, dtype=np.float32)[mask].tolist()


# ---------------------------------------------------------------- against the reference


@st.composite
def layouts(draw):
    """Random PointFields: any datatype, counts, gaps, empty names, trailing padding."""
    fields, offset = [], 0
    for i in range(draw(st.integers(1, 5))):
        dt = draw(st.integers(1, 8))
        count = draw(st.integers(1, 3))
        offset += draw(st.integers(0, 4))
        name = draw(st.sampled_from([f'f{i}', f'f{i}', ''])) if i else f'f{i}'
        fields.append((name, offset, dt, count))
        offset += pc.DATATYPES[dt].itemsize * count
    return fields, offset + draw(st.integers(0, 6))


def _msg(fields, height, width, big, step, raw, dense=False):
    msg = PointCloud2Msg(header=HeaderMsg(frame_id='cam'), height=height, width=width,
                         is_bigendian=big, point_step=step, row_step=step * width,
                         is_dense=dense)
    msg.fields = [PointFieldMsg(name=n, offset=o, datatype=d, count=c) for n, o, d, c in fields]
    msg.data = raw
    return msg


def _same(a: np.ndarray, b: np.ndarray):
    assert a.dtype.names == b.dtype.names and a.shape == b.shape
    for name in a.dtype.names:  # bitwise, NaN payloads included
        assert a[name].dtype == b[name].dtype
        assert np.ascontiguousarray(a[name]).tobytes() == np.ascontiguousarray(b[name]).tobytes()


@needs_ref
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts(), st.integers(1, 4), st.integers(1, 4), st.booleans(), st.booleans(),
       st.booleans(), st.randoms(use_true_random=False), st.data())
def test_read_points_matches_reference(layout, width, height, big, skip_nans, dense, rnd, data):
    fields, step = layout
    raw = bytes(rnd.getrandbits(8) for _ in range(step * width * height))
    fresh = lambda: _msg(fields, height, width, big, step, raw, dense)  # noqa: E731
    ours = pc.read_points(fresh(), skip_nans=skip_nans)
    _same(ours, ref.read_points(fresh(), skip_nans=skip_nans))  # the reference byteswaps in place
    names = list(ours.dtype.names)
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    _same(pc.read_points(fresh(), chosen), ref.read_points(fresh(), chosen))
    n = len(ours)
    if n:
        idx = data.draw(st.lists(st.integers(-n, n - 1), max_size=6))
        mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        for uvs in (idx, np.array(idx, np.int64), mask):
            _same(pc.read_points(fresh(), skip_nans=skip_nans, uvs=uvs),
                  ref.read_points(fresh(), skip_nans=skip_nans, uvs=uvs))
    if not skip_nans:
        _same(pc.read_points(fresh(), reshape_organized_cloud=True),
              ref.read_points(fresh(), reshape_organized_cloud=True))
    if len({d for _, _, d, _ in fields}) == 1:
        a, b = pc.read_points_numpy(fresh()), ref.read_points_numpy(fresh())
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if all(c == 1 and nm for nm, _, _, c in fields):  # what the reference's namedtuple takes
        mine, theirs = pc.read_points_list(fresh()), ref.read_points_list(fresh())
        assert len(mine) == len(theirs)
        for p, q in zip(mine, theirs):
            assert p._fields == q._fields
            assert [type(v) for v in p] == [type(v) for v in q]
            assert np.array(p).tobytes() == np.array(q).tobytes()


@needs_ref
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts(), st.integers(1, 5), st.booleans(), st.randoms(use_true_random=False))
def test_create_cloud_matches_reference(layout, n, organised, rnd):
    fields, step = layout
    msg_fields = [PointFieldMsg(name=f, offset=o, datatype=d, count=c) for f, o, d, c in fields]
    our_fields = [PointField(*f) for f in fields]
    dt = pc.dtype_from_fields(our_fields, point_step=step)
    pts = np.frombuffer(bytes(rnd.getrandbits(8) for _ in range(step * n * 2)), dt).copy()
    if organised:
        pts = pts.reshape(n, 2)
    ours = pc.create_cloud(None, our_fields, pts, point_step=step)
    theirs = ref.create_cloud(HeaderMsg(), msg_fields, pts, point_step=step)
    for key in ('height', 'width', 'point_step', 'row_step', 'is_bigendian', 'is_dense'):
        assert getattr(ours, key) == getattr(theirs, key), key
    a = np.frombuffer(ours.data, np.uint8).reshape(-1, step)
    b = np.frombuffer(bytes(theirs.data), np.uint8).reshape(-1, step)  # (empty: it crashes)
    pad = _padding_mask(dt)
    assert (a[:, ~pad] == b[:, ~pad]).all() and not a[:, pad].any()
    if len({d for _, _, d, _ in fields}) == 1:  # unstructured [N, F] input
        flat = pc.read_points_numpy(ours)
        again = pc.create_cloud(None, our_fields, flat, point_step=step)
        again_ref = ref.create_cloud(HeaderMsg(), msg_fields, flat, point_step=step)
        _same(pc.read_points(again), ref.read_points(again_ref))


@needs_ref
def test_itemsize_mismatch_is_refused_like_the_reference():
    dt = pc.dtype_from_fields(XYZ_PAD, point_step=16)  # the fields alone make 12 bytes
    pts = np.zeros(3, dt)
    msg_fields = [PointFieldMsg(name=f.name, offset=f.offset, datatype=7, count=1)
                  for f in XYZ_PAD]
    with pytest.raises(AssertionError):
        ref.create_cloud(HeaderMsg(), msg_fields, pts)
    with pytest.raises(GeodeError, match='point_step'):
        pc.create_cloud(None, XYZ_PAD, pts)
    ok_ref = ref.create_cloud(HeaderMsg(), msg_fields, pts, point_step=16)
    ok = pc.create_cloud(None, XYZ_PAD, pts, point_step=16)
    assert ok.point_step == ok_ref.point_step == 16


@needs_ref
def test_published_cloud_is_a_real_message_the_reference_reads():
    from geode_ros.ros.conversions import cloud_to_msg, make_header

    rng = np.random.default_rng(3)
    xyz = rng.normal(size=(50, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, (50, 3), dtype=np.uint8)
    msg = cloud_to_msg(xyz, rgb, make_header('map', 1.0))
    assert isinstance(msg, PointCloud2Msg)
    assert all(isinstance(f, PointFieldMsg) for f in msg.fields)
    back = ref.read_points_numpy(msg, ['x', 'y', 'z'])
    np.testing.assert_array_equal(back, xyz)
    packed = ref.read_points(msg, ['rgb'])['rgb'].view(np.uint32)
    np.testing.assert_array_equal((packed >> 16) & 255, rgb[:, 0])
    assert sys.byteorder == 'little' or msg.is_bigendian
