"""Vectorised sensor_msgs/Image codecs (no cv_bridge: it is not on PyPI).

Messages are duck-typed (height, width, encoding, is_bigendian, step, data), so
rclpy messages, rosbags messages and plain dicts from ``encode_image`` all work.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.scene.types import CameraIntrinsics

# encoding -> (channels, numpy base dtype, channel order for colour or None)
_ENCODINGS: dict[str, tuple[int, str, str | None]] = {
    'rgb8': (3, 'u1', 'rgb'),
    'bgr8': (3, 'u1', 'bgr'),
    'rgba8': (4, 'u1', 'rgba'),
    'bgra8': (4, 'u1', 'bgra'),
    'mono8': (1, 'u1', None),
    '8UC1': (1, 'u1', None),
    '8UC3': (3, 'u1', 'bgr'),
    'mono16': (1, 'u2', None),
    '16UC1': (1, 'u2', None),
    '32FC1': (1, 'f4', None),
}
_COLOUR = {k for k, v in _ENCODINGS.items() if v[2] is not None}


def _get(msg: Any, name: str) -> Any:
    if isinstance(msg, Mapping):
        if name not in msg:
            raise GeodeError(f'image message has no field {name!r}')
        return msg[name]
    if not hasattr(msg, name):
        raise GeodeError(f'image message has no field {name!r} (is it a sensor_msgs/Image?)')
    return getattr(msg, name)


def _opt(msg: Any, name: str, default: Any) -> Any:
    if isinstance(msg, Mapping):
        return msg.get(name, default)
    return getattr(msg, name, default)


def _as_bytes(data: Any) -> np.ndarray:
    """Message data (bytes, array.array, numpy, list of ints) as a flat uint8 array."""
    if isinstance(data, np.ndarray):
        if data.dtype == np.uint8:
            return data.reshape(-1)
        return np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, dtype=np.uint8)
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as exc:
        raise GeodeError(f'image data is not a byte buffer: {exc}') from exc
    if arr.dtype.kind in 'iu' and arr.size and (arr.min() < 0 or arr.max() > 255):
        raise GeodeError('image data list holds values outside 0..255')
    if arr.dtype.kind not in 'iub' and arr.size:
        raise GeodeError(f'image data must be bytes, got elements of type {arr.dtype}')
    return arr.astype(np.uint8).reshape(-1)


def _layout(encoding: str) -> tuple[int, str, str | None]:
    enc = str(encoding)
    if enc not in _ENCODINGS:
        raise GeodeError(f'unsupported image encoding {enc!r}; supported: {sorted(_ENCODINGS)}')
    return _ENCODINGS[enc]


def _decode_raw(msg: Any) -> tuple[np.ndarray, str]:
    """HxWxC array in the message's own channel order and native byte order."""
    try:
        height, width, step = int(_get(msg, 'height')), int(_get(msg, 'width')), int(
            _get(msg, 'step'))
    except (TypeError, ValueError) as exc:
        raise GeodeError(f'image height/width/step must be integers: {exc}') from exc
    encoding = str(_get(msg, 'encoding'))
    channels, base, _ = _layout(encoding)
    big = bool(_get(msg, 'is_bigendian'))
    dtype = np.dtype(base).newbyteorder('>' if big else '<')
    bpp = channels * dtype.itemsize
    if height <= 0 or width <= 0:
        raise GeodeError(f'image has empty size {width}x{height}')
    if step < width * bpp:
        raise GeodeError(f'image step {step} < width*bytes_per_pixel = {width}*{bpp}')
    buf = _as_bytes(_get(msg, 'data'))
    if buf.size != step * height:
        raise GeodeError(
            f'image data size mismatch: {buf.size} bytes but step*height = {step}*{height}'
            f' = {step * height} ({encoding} {width}x{height})'
        )
    rows = buf.reshape(height, step)[:, : width * bpp]  # drop row padding
    arr = np.ascontiguousarray(rows).view(dtype).reshape(height, width, channels)
    if not dtype.isnative:
        arr = arr.astype(dtype.newbyteorder('='))
    return arr, encoding


def _to_rgb(arr: np.ndarray, order: str) -> np.ndarray:
    if order == 'rgb':
        return arr
    if order == 'bgr':
        return arr[..., ::-1]
    if order == 'rgba':
        return arr[..., :3]
    return arr[..., 2::-1]  # bgra


def decode_image(msg: Any) -> np.ndarray:
    """HxWx3 uint8 RGB for colour encodings, HxW raw values for mono and depth."""
    arr, encoding = _decode_raw(msg)
    order = _ENCODINGS[encoding][2]
    if order is None:
        return arr[..., 0]
    return np.ascontiguousarray(_to_rgb(arr, order))


def decode_rgb(msg: Any) -> np.ndarray:
    """HxWx3 uint8 RGB; mono8 is replicated so greyscale cameras still work."""
    arr, encoding = _decode_raw(msg)
    order = _ENCODINGS[encoding][2]
    if order is not None:
        return np.ascontiguousarray(_to_rgb(arr, order))
    if encoding in ('mono8', '8UC1'):
        return np.repeat(arr, 3, axis=2)
    raise GeodeError(f'encoding {encoding!r} is not a colour image (expected rgb8/bgr8/...)')


def decode_depth(msg: Any, depth_scale_16u: float = 0.001) -> np.ndarray:
    """HxW float32 metres from 16UC1/mono16 (x ``depth_scale_16u``) or 32FC1 (metres)."""
    arr, encoding = _decode_raw(msg)
    if encoding in ('16UC1', 'mono16'):
        return arr[..., 0].astype(np.float32) * np.float32(depth_scale_16u)
    if encoding == '32FC1':
        return arr[..., 0].astype(np.float32, copy=False)
    raise GeodeError(f'encoding {encoding!r} is not a depth image (expected 16UC1 or 32FC1)')


def decode_compressed_image(msg: Any) -> np.ndarray:
    """sensor_msgs/CompressedImage: RGB uint8 for jpeg/png, float32 metres for compressedDepth."""
    fmt = str(_get(msg, 'format')).lower()
    buf = _as_bytes(_get(msg, 'data'))
    if 'compresseddepth' in fmt:
        return _decode_compressed_depth(fmt, buf)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if img is None:
        raise GeodeError(f'could not decode compressed image (format {fmt!r}, {buf.size} bytes)')
    if img.ndim == 2:
        return np.repeat(img[..., None], 3, axis=2).astype(np.uint8)
    if img.dtype != np.uint8:
        raise GeodeError(f'compressed colour image has dtype {img.dtype}, expected 8 bit')
    if img.shape[2] == 4:
        return np.ascontiguousarray(img[..., 2::-1])
    return np.ascontiguousarray(img[..., ::-1])


def _decode_compressed_depth(fmt: str, buf: np.ndarray) -> np.ndarray:
    """image_transport compressedDepth: 12-byte header (format, quant A, quant B) + PNG."""
    if buf.size <= 12:
        raise GeodeError('compressedDepth message too short (no 12-byte header)')
    quant_a, quant_b = np.frombuffer(buf[4:12].tobytes(), dtype='<f4')
    img = cv2.imdecode(buf[12:], cv2.IMREAD_UNCHANGED)
    if img is None or img.ndim != 2:
        raise GeodeError(f'could not decode compressedDepth payload (format {fmt!r})')
    if fmt.startswith('16uc1') or fmt.startswith('mono16'):
        return img.astype(np.float32) * np.float32(0.001)
    # 32FC1: inverse-depth quantisation, 0 = invalid.
    raw = img.astype(np.float32)
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = np.float32(quant_a) / (raw - np.float32(quant_b))
    depth[raw == 0] = 0.0
    return depth.astype(np.float32)


def encode_image(
    array: np.ndarray, encoding: str, *, is_bigendian: bool = False, row_padding: int = 0
) -> dict[str, Any]:
    """Image message fields for ``array`` (RGB for colour encodings; raw for mono/depth).

    Returns dict(height, width, encoding, is_bigendian, step, data) ready to splat
    into a ROS/rosbags Image; ``row_padding`` extra bytes per row exercise ``step``.
    """
    channels, base, order = _layout(encoding)
    arr = np.asarray(array)
    if order is not None:
        if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.dtype != np.uint8:
            raise GeodeError(f'{encoding} needs HxWx3 (RGB) uint8, got {arr.shape} {arr.dtype}')
        rgb = arr[..., :3]
        alpha = arr[..., 3:4] if arr.shape[2] == 4 else np.full_like(arr[..., :1], 255)
        arr = {'rgb': rgb, 'bgr': rgb[..., ::-1], 'rgba': np.concatenate([rgb, alpha], 2),
               'bgra': np.concatenate([rgb[..., ::-1], alpha], 2)}[order]
    else:
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        if arr.ndim != 2:
            raise GeodeError(f'{encoding} needs an HxW array, got shape {arr.shape}')
        if base == 'f4' and arr.dtype.kind == 'f':
            arr = arr.astype(np.float32)
        elif np.dtype(base) != arr.dtype:
            raise GeodeError(f'{encoding} needs dtype {np.dtype(base)}, got {arr.dtype}')
    if arr.ndim < 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise GeodeError(f'cannot encode an empty image of shape {arr.shape}')
    dtype = np.dtype(base).newbyteorder('>' if is_bigendian else '<')
    height, width = arr.shape[:2]
    rows = np.ascontiguousarray(arr.astype(dtype)).reshape(height, -1).view(np.uint8)
    if row_padding:
        rows = np.concatenate([rows, np.zeros((height, int(row_padding)), np.uint8)], axis=1)
    return {'height': int(height), 'width': int(width), 'encoding': encoding,
            'is_bigendian': int(bool(is_bigendian)), 'step': int(rows.shape[1]),
            'data': rows.tobytes()}


def intrinsics_from_camera_info(msg: Any) -> CameraIntrinsics:
    """CameraIntrinsics from a sensor_msgs/CameraInfo (ROS 2 ``k``/``d`` or ROS 1 ``K``/``D``)."""
    k = _opt(msg, 'k', _opt(msg, 'K', None))
    d = _opt(msg, 'd', _opt(msg, 'D', ()))
    try:
        K = np.asarray(k, dtype=np.float64).reshape(-1)
        dist = tuple(float(v) for v in np.asarray(d if d is not None else (), np.float64).ravel())
    except (TypeError, ValueError) as exc:
        raise GeodeError(f'CameraInfo k/d are not numeric: {exc}') from exc
    if K.shape != (9,):
        raise GeodeError(f'CameraInfo k must have 9 values, got {K.size}')
    if not np.any(K) or not np.all(np.isfinite(K)):
        raise GeodeError('CameraInfo k is all zero or non-finite: the camera is not calibrated '
                         '(missing intrinsics)')
    fx, fy, cx, cy = K[0], K[4], K[2], K[5]
    if fx <= 0 or fy <= 0:
        raise GeodeError(f'CameraInfo focal lengths must be positive, got fx={fx}, fy={fy}')
    width, height = int(_get(msg, 'width')), int(_get(msg, 'height'))
    if width <= 0 or height <= 0:
        raise GeodeError(f'CameraInfo has empty image size {width}x{height}')
    model = str(_opt(msg, 'distortion_model', 'plumb_bob'))
    return CameraIntrinsics(float(fx), float(fy), float(cx), float(cy), width, height,
                            model or 'plumb_bob', dist)


@functools.lru_cache(maxsize=8)
def _undistort_maps(intr: CameraIntrinsics) -> tuple[np.ndarray, np.ndarray]:
    """Remap tables are costly to build; cache them per calibration."""
    K = intr.matrix
    D = np.asarray(intr.distortion, dtype=np.float64)
    size = (intr.width, intr.height)
    if intr.distortion_model == 'equidistant':
        if D.size < 4:
            raise GeodeError('equidistant distortion needs 4 coefficients')
        return cv2.fisheye.initUndistortRectifyMap(K, D[:4], np.eye(3), K, size, cv2.CV_32FC1)
    if intr.distortion_model not in ('plumb_bob', 'rational_polynomial', ''):
        raise GeodeError(f'unsupported distortion model {intr.distortion_model!r}')
    return cv2.initUndistortRectifyMap(K, D, None, K, size, cv2.CV_32FC1)


def undistort(image: np.ndarray, intrinsics: CameraIntrinsics) -> np.ndarray:
    """Undistorted image with the same K (nearest for depth, so no fake mixed depths)."""
    if not intrinsics.has_distortion:
        return image
    img = np.asarray(image)
    if img.shape[:2] != (intrinsics.height, intrinsics.width):
        raise GeodeError(f'image shape {img.shape[:2]} does not match intrinsics '
                         f'{intrinsics.height}x{intrinsics.width}')
    map1, map2 = _undistort_maps(intrinsics)
    is_depth = img.ndim == 2 and img.dtype != np.uint8
    interp = cv2.INTER_NEAREST if is_depth else cv2.INTER_LINEAR
    return cv2.remap(img, map1, map2, interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
