"""sensor_msgs/PointCloud2 codecs with the semantics of ROS's ``sensor_msgs_py.point_cloud2``.

``sensor_msgs_py`` is not on PyPI, so this is our own implementation of the
same contract: ``read_points`` returns a structured array with fields in the
message's order (a field with ``count > 1`` becomes ``name_0 .. name_{n-1}``,
an empty name becomes ``unnamed_field_{i}``), ``skip_nans`` only acts when the
cloud is not ``is_dense``, ``uvs`` indexes the flat (post-NaN-skip) point list,
and ``reshape_organized_cloud`` reshapes to ``(width, height)`` exactly as the
reference does (and ``create_cloud`` of a 2D array sets ``width = shape[0]``,
``height = shape[1]``), so code ported from ROS behaves the same.

Differences, all on inputs where the reference would crash or misread: every
malformed message or bad argument raises GeodeError naming it; fields must lie
inside ``point_step`` and decoding costs time linear in the message's size;
``row_step`` padding between rows is honoured; results are always native-endian
copies (never views of ``data``); ``create_cloud`` zero-fills padding bytes.
Messages are duck-typed: our ``PointCloud2Data`` or rclpy/rosbags messages.
"""

from __future__ import annotations

import sys
from collections import namedtuple
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.lib.recfunctions import structured_to_unstructured

from geode_ros.errors import GeodeError

DUMMY_FIELD_PREFIX = 'unnamed_field'


@dataclass
class PointField:
    """Duck-compatible stand-in for sensor_msgs/PointField."""

    INT8: ClassVar[int] = 1
    UINT8: ClassVar[int] = 2
    INT16: ClassVar[int] = 3
    UINT16: ClassVar[int] = 4
    INT32: ClassVar[int] = 5
    UINT32: ClassVar[int] = 6
    FLOAT32: ClassVar[int] = 7
    FLOAT64: ClassVar[int] = 8

    name: str = ''
    offset: int = 0
    datatype: int = 7
    count: int = 1


@dataclass
class Header:
    """Minimal std_msgs/Header stand-in: frame id and stamp in seconds."""

    frame_id: str = ''
    stamp: float = 0.0


@dataclass
class PointCloud2Data:
    """Duck-compatible stand-in for sensor_msgs/PointCloud2 (``data`` is bytes)."""

    header: Any = field(default_factory=Header)
    height: int = 1
    width: int = 0
    fields: list[Any] = field(default_factory=list)
    is_bigendian: bool = False
    point_step: int = 0
    row_step: int = 0
    data: bytes = b''
    is_dense: bool = False


DATATYPES: dict[int, np.dtype] = {
    PointField.INT8: np.dtype(np.int8),
    PointField.UINT8: np.dtype(np.uint8),
    PointField.INT16: np.dtype(np.int16),
    PointField.UINT16: np.dtype(np.uint16),
    PointField.INT32: np.dtype(np.int32),
    PointField.UINT32: np.dtype(np.uint32),
    PointField.FLOAT32: np.dtype(np.float32),
    PointField.FLOAT64: np.dtype(np.float64),
}


def header_frame_stamp(header: Any) -> tuple[str, float]:
    """(frame_id, stamp seconds) from our Header or a ROS Header (stamp.sec/nanosec)."""
    frame_id = str(getattr(header, 'frame_id', '') or '')
    stamp = getattr(header, 'stamp', 0.0)
    if hasattr(stamp, 'sec'):
        return frame_id, float(stamp.sec) + 1e-9 * float(getattr(stamp, 'nanosec', 0))
    return frame_id, float(stamp or 0.0)


MAX_SUBFIELDS = 4096
"""Most (sub)fields a cloud may declare: decode cost stays bounded whatever a message says
(the widest common point descriptors, e.g. SHOT, have a few hundred)."""


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise GeodeError(f'{what} must be an integer, got {value!r}')
    return int(value)


def dtype_from_fields(
    fields: Iterable[Any], point_step: int | None = None, is_bigendian: bool | None = None
) -> np.dtype:
    """Structured dtype for ``fields`` (``itemsize = point_step`` when given).

    ``is_bigendian`` None means native byte order (what ``create_cloud`` writes). Every
    field must lie inside ``point_step``; the work done is linear in the number of
    (sub)fields, which is at most ``MAX_SUBFIELDS``.
    """
    if point_step is not None:
        point_step = _as_int(point_step, 'point_step')
        if point_step < 0:
            raise GeodeError(f'point_step must be >= 0, got {point_step}')
    try:
        field_list = list(fields)
    except TypeError as exc:
        raise GeodeError(f'fields must be a list of PointField, got {type(fields).__name__}'
                         ) from exc
    names: list[str] = []
    seen: set[str] = set()
    offsets: list[int] = []
    formats: list[np.dtype] = []
    order = '=' if is_bigendian is None else ('>' if is_bigendian else '<')
    for i, f in enumerate(field_list):
        try:
            datatype, offset, count = int(f.datatype), int(f.offset), int(f.count)
            name = str(f.name)
        except (AttributeError, TypeError, ValueError, OverflowError) as exc:
            raise GeodeError(f'fields[{i}] is not a PointField: {exc}') from exc
        if datatype not in DATATYPES:
            raise GeodeError(f'PointField {name!r} has unknown datatype {datatype} (valid 1..8)')
        if count <= 0:
            raise GeodeError(f"PointField {name!r} has count {count}; can't process count <= 0")
        if offset < 0:
            raise GeodeError(f'PointField {name!r} has negative offset {offset}')
        base = DATATYPES[datatype].newbyteorder(order)
        end = offset + count * base.itemsize
        if point_step is not None and end > point_step:
            raise GeodeError(f'PointField {name!r} (offset {offset}, count {count}) ends at byte '
                             f'{end}, past point_step {point_step}')
        if len(names) + count > MAX_SUBFIELDS:
            raise GeodeError(f'PointFields declare more than {MAX_SUBFIELDS} values per point '
                             f'(field {name!r} has count {count})')
        name = name or f'{DUMMY_FIELD_PREFIX}_{i}'
        for a in range(count):
            sub = f'{name}_{a}' if count > 1 else name
            if sub in seen:
                raise GeodeError(f'duplicate PointField name {sub!r}')
            seen.add(sub)
            names.append(sub)
            offsets.append(offset + a * base.itemsize)
            formats.append(base)
    spec: dict[str, Any] = {'names': names, 'formats': formats, 'offsets': offsets}
    if point_step is not None:
        spec['itemsize'] = point_step
    try:
        return np.dtype(spec)
    except (TypeError, ValueError) as exc:
        raise GeodeError(f'PointCloud2 fields do not form a valid layout: {exc}') from exc


def _buffer(data: Any) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, dtype=np.uint8)
    try:
        return np.frombuffer(data, dtype=np.uint8)  # array.array('B') from rclpy
    except (TypeError, ValueError):
        pass
    try:
        arr = np.asarray(data, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError, OverflowError) as exc:
        raise GeodeError(f'PointCloud2 data is not a byte buffer: {exc}') from exc
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise GeodeError('PointCloud2 data list holds values outside 0..255')
    return arr.astype(np.uint8)


def _all_points(cloud: Any) -> tuple[np.ndarray, int, int]:
    """[height*width] structured view of the cloud in its own byte order.

    Sizes are checked against the data before the fields are looked at, so a message
    costs time linear in its size whatever its header claims.
    """
    try:
        height, width = int(cloud.height), int(cloud.width)
        point_step, row_step = int(cloud.point_step), int(cloud.row_step)
        fields, big, data = cloud.fields, bool(cloud.is_bigendian), cloud.data
    except (AttributeError, TypeError, ValueError, OverflowError) as exc:
        raise GeodeError(f'cloud is not a PointCloud2 message: {exc}') from exc
    if height < 0 or width < 0 or point_step < 0:
        raise GeodeError(f'PointCloud2 has negative size ({width}x{height}, step {point_step})')
    buf = _buffer(data)
    n = height * width
    if n and point_step == 0:
        raise GeodeError('PointCloud2 point_step is 0 but the cloud has points')
    if row_step < width * point_step:
        row_step = width * point_step  # the reference ignores row_step; so do we here
    need = (height - 1) * row_step + width * point_step if n else 0
    if buf.size < need:
        raise GeodeError(f'PointCloud2 data has {buf.size} bytes but {width}x{height} points '
                         f'with point_step {point_step}, row_step {row_step} need {need}')
    dtype = dtype_from_fields(fields, point_step=point_step, is_bigendian=big)
    if n == 0:
        return np.zeros(0, dtype=dtype), height, width
    rows = np.ndarray((height, width), dtype=dtype, buffer=buf[:need],
                      strides=(row_step, point_step))
    return rows.reshape(-1), height, width


def _field_names(field_names: Any, available: tuple[str, ...]) -> list[str]:
    try:
        names = list(field_names)
    except TypeError as exc:
        raise GeodeError(f'field_names must be a list of field names, got {field_names!r}'
                         ) from exc
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise GeodeError(f'field_names must be strings, got {bad}')
    missing = [n for n in names if n not in available]
    if missing:
        raise GeodeError(f'field_names {missing} not in the cloud fields {list(available)}')
    return names


def _select(points: np.ndarray, uvs: Any) -> np.ndarray:
    """``points[uvs]`` as the reference indexes: integer indices or a boolean mask array."""
    try:
        idx = uvs if isinstance(uvs, np.ndarray) else np.fromiter(uvs, int)
    except (TypeError, ValueError, OverflowError) as exc:
        raise GeodeError(f'uvs must be point indices (an iterable of int), got {uvs!r}: {exc}'
                         ) from exc
    if idx.dtype.kind == 'b':
        if idx.shape != points.shape:
            raise GeodeError(f'uvs: a boolean mask needs one entry per point ({len(points)}), '
                             f'got shape {idx.shape}')
        return points[idx]
    if idx.dtype.kind not in 'iu':
        raise GeodeError(f'uvs must be integer point indices, got dtype {idx.dtype}')
    if idx.size and (idx.max() >= len(points) or idx.min() < -len(points)):
        raise GeodeError(f'uvs index out of range for {len(points)} points')
    return points[idx]


def read_points(
    cloud: Any,
    field_names: Sequence[str] | None = None,
    skip_nans: bool = False,
    uvs: Iterable[int] | np.ndarray | None = None,
    reshape_organized_cloud: bool = False,
) -> np.ndarray:
    """Structured array of the cloud's points (native byte order), as sensor_msgs_py does."""
    points, height, width = _all_points(cloud)
    if field_names is not None:
        points = points[_field_names(field_names, points.dtype.names or ())]
    points = points.astype(points.dtype.newbyteorder('='))
    if skip_nans and not bool(getattr(cloud, 'is_dense', False)) and points.dtype.names:
        keep = np.ones(len(points), dtype=bool)
        for name in points.dtype.names:
            if points.dtype[name].kind == 'f':
                keep &= ~np.isnan(points[name])
        points = points[keep]
    if uvs is not None:
        points = _select(points, uvs)
    if reshape_organized_cloud and height > 1:
        if points.size != height * width:
            raise GeodeError(f'cannot reshape {points.size} points to organised '
                             f'({width}, {height}); do not combine with skip_nans/uvs')
        points = points.reshape(width, height)
    return points


def read_points_numpy(
    cloud: Any,
    field_names: Sequence[str] | None = None,
    skip_nans: bool = False,
    uvs: Iterable[int] | np.ndarray | None = None,
    reshape_organized_cloud: bool = False,
) -> np.ndarray:
    """Plain [N, F] array; all selected fields must share one datatype (as the reference)."""
    points = read_points(cloud, field_names, skip_nans, uvs, reshape_organized_cloud)
    if not points.dtype.names:
        raise GeodeError('read_points_numpy needs at least one field')
    if len({points.dtype[n].type for n in points.dtype.names}) > 1:
        raise GeodeError('all fields need the same datatype for read_points_numpy; '
                         'use read_points() for mixed types')
    return structured_to_unstructured(points)


def read_points_list(
    cloud: Any,
    field_names: Sequence[str] | None = None,
    skip_nans: bool = False,
    uvs: Iterable[int] | np.ndarray | None = None,
) -> list[tuple]:
    """List of namedtuples ``Point`` of numpy scalars, as the reference (slow; small clouds)."""
    points = read_points(cloud, field_names, skip_nans, uvs)
    names = list(points.dtype.names or ())
    Point = namedtuple('Point', names, rename=True)
    return [Point._make(p) for p in points]


def _structured(points: Any, dtype: np.dtype) -> np.ndarray:
    """``points`` as an array of ``dtype`` whose unwritten (padding) bytes are all zero."""
    names = dtype.names or ()
    if isinstance(points, np.ndarray) and points.dtype.names is None:
        if len({dtype[n] for n in names}) > 1:
            raise GeodeError('points: an unstructured array needs fields of one datatype; '
                             'pass a structured array for mixed types')
        if points.ndim < 2 or points.shape[-1] != len(names):
            raise GeodeError(f'points shape {points.shape} does not match '
                             f'{len(names)} (sub)fields')
        columns = [points[..., k] for k in range(len(names))]
    elif isinstance(points, np.ndarray):
        layout = [(n, points.dtype.fields[n][1]) for n in points.dtype.names]
        want = [(n, dtype.fields[n][1]) for n in names]
        if layout != want or points.dtype.itemsize != dtype.itemsize:
            raise GeodeError(
                f'points: structured dtype (fields {layout}, itemsize {points.dtype.itemsize}) '
                f'does not match the PointFields (fields {want}, itemsize {dtype.itemsize}); '
                'pass point_step for a padded array')
        columns = [points[n] for n in names]
    else:
        try:
            rows = np.array([tuple(p) for p in points], dtype=dtype)
        except TypeError as exc:
            raise GeodeError(f'points must be an array or an iterable of tuples: {exc}') from exc
        columns = [rows[n] for n in names]
    shape = columns[0].shape if columns else (0,)
    if len(shape) > 2:
        raise GeodeError('points can be organised in at most two dimensions')
    out = np.zeros(shape, dtype=dtype)  # zero-filled: padding never leaks process memory
    for name, col in zip(names, columns):
        out[name] = col
    return out


def create_cloud(
    header: Any, fields: Sequence[Any], points: Any, point_step: int | None = None
) -> PointCloud2Data:
    """PointCloud2Data from a structured array, an [N, F] array or a list of tuples.

    A 2D array of points is an organised cloud: ``width = shape[0]``, ``height = shape[1]``
    (the reference's convention). Data is written in native byte order; every byte no
    field covers is zero.
    """
    fields = list(fields) if isinstance(fields, Iterable) else fields
    dtype = dtype_from_fields(fields, point_step)
    try:
        arr = _structured(points, dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise GeodeError(f'points do not fit the PointFields: {exc}') from exc
    width = int(arr.shape[0])
    height = int(arr.shape[1]) if arr.ndim == 2 else 1
    return PointCloud2Data(
        header=header, height=height, width=width, fields=fields,
        is_bigendian=sys.byteorder != 'little', point_step=dtype.itemsize,
        row_step=dtype.itemsize * width, data=arr.tobytes(),
        is_dense=False,
    )


def create_cloud_xyz32(header: Any, points: Any) -> PointCloud2Data:
    """Cloud with float32 x, y, z fields (point_step 12)."""
    fields = [PointField('x', 0, PointField.FLOAT32, 1), PointField('y', 4, PointField.FLOAT32, 1),
              PointField('z', 8, PointField.FLOAT32, 1)]
    return create_cloud(header, fields, points)


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """[N, 3] uint8 -> float32 packed 0x00RRGGBB (PCL's ``rgb`` field convention)."""
    rgb = np.asarray(rgb, dtype=np.uint32)
    packed = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    return packed.astype(np.uint32).view(np.float32)


def create_cloud_xyzrgb(header: Any, xyz: np.ndarray, rgb: np.ndarray | None) -> PointCloud2Data:
    """x, y, z float32 (+ packed float32 ``rgb``) cloud, point_step 16, from arrays."""
    xyz = np.asarray(xyz, dtype=np.float32).reshape(-1, 3)
    fields = [PointField('x', 0, 7, 1), PointField('y', 4, 7, 1), PointField('z', 8, 7, 1)]
    if rgb is None:
        return create_cloud(header, fields, xyz)
    fields.append(PointField('rgb', 12, 7, 1))
    return create_cloud(header, fields, np.concatenate([xyz, pack_rgb(rgb)[:, None]], axis=1))


def xyz_rgb_from_cloud(cloud: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(xyz float32 [N, 3], rgb uint8 [N, 3] or None), dropping non-finite points.

    Colour comes from a packed ``rgb``/``rgba`` field (float32 or uint32, 0xAARRGGBB)
    or from separate ``r``, ``g``, ``b`` fields.
    """
    points = read_points(cloud)
    names = set(points.dtype.names or ())
    if not {'x', 'y', 'z'} <= names:
        raise GeodeError(f'PointCloud2 needs x, y, z fields, has {sorted(names)}')
    xyz = np.stack([points['x'], points['y'], points['z']], axis=1).astype(np.float32)
    keep = np.all(np.isfinite(xyz), axis=1)
    rgb = None
    packed_name = 'rgb' if 'rgb' in names else ('rgba' if 'rgba' in names else None)
    if packed_name is not None and points.dtype[packed_name].itemsize == 4:
        v = np.ascontiguousarray(points[packed_name]).view(np.uint32)
        rgb = np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255], axis=1).astype(np.uint8)
    elif {'r', 'g', 'b'} <= names:
        rgb = np.stack([points['r'], points['g'], points['b']], axis=1)
        if rgb.dtype.kind == 'f' and rgb.size and np.nanmax(rgb) <= 1.0:
            rgb = rgb * 255.0
        rgb = np.clip(np.nan_to_num(rgb.astype(np.float64)), 0, 255).astype(np.uint8)
    return xyz[keep], (rgb[keep] if rgb is not None else None)
