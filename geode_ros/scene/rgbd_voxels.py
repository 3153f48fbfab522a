"""Fused RGB-D ingest: a depth image straight to a voxel-averaged cloud in the fixed frame.

Same result as ``depth_to_points`` + ``voxel_downsample`` (and as Open3D's RGBDImage +
``create_from_rgbd_image`` + ``transform`` + ``voxel_down_sample``), faster because:

* pixel (u, v) at depth z lands at ``z * R @ ((u - cx) / fx, (v - cy) / fy, 1) + t``, and the
  rotated ray is affine in u and v, so ``s_k = (world_k - t_k) / voxel = z * (a_k[u] + b_k[v])``:
  two passes per channel over the image, no per-pixel ray gathers, no [N, 3] transform; keys
  are ``floor(s_k - min s_k + 1/2)`` in one fused subtract-and-cast pass, and the voxel means
  of s_k map back to world (x voxel + t) on the M voxels only;
* invalid pixels are not compacted away (compressing five channels costs more than it saves on
  mostly valid images): their depth turns NaN, NaN-ignoring ``fmin``/``fmax`` give the grid
  bounds and their keys one sentinel group that is dropped at the end;
* ``group_ids`` collapses runs of equal neighbouring keys before sorting, and the per-voxel
  sums are ``np.bincount`` over the group index (no gathers, no ``reduceat``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.scene.depth import _TINY, _check_inputs, colour_means, group_ids, group_means
from geode_ros.scene.types import CameraIntrinsics


def _depth_m(depth: Any, depth_scale: float, stride: int) -> np.ndarray:
    """Strided float32 depth in metres (integer images x ``depth_scale``)."""
    d = np.asarray(depth)
    if stride > 1:
        d = d[::stride, ::stride]
    if d.dtype.kind in 'ui':
        z = d.astype(np.float32)
        z *= np.float32(depth_scale)
        return z
    if d.dtype.kind != 'f':
        raise GeodeError(f'depth must be uint16 or float metres, got {d.dtype}')
    return d.astype(np.float32)


def rgbd_voxel_downsample(
    depth: Any,
    intrinsics: CameraIntrinsics,
    T_world_cam: np.ndarray | None,
    rgb: Any,
    voxel: float,
    min_depth: float = 0.0,
    max_depth: float = float('inf'),
    depth_scale: float = 0.001,
    stride: int = 1,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(xyz [M, 3] float32, rgb [M, 3] uint8 or None): per-voxel means of one RGB-D frame.

    ``depth`` is uint16 (x ``depth_scale`` metres) or float metres; the grid is anchored at
    the frame's own ``min_bound - voxel / 2`` like Open3D's ``voxel_down_sample``.
    """
    _check_inputs(depth, intrinsics, stride)
    if not voxel > 0:
        raise GeodeError(f'voxel size must be positive, got {voxel}')
    stride = int(stride)
    if rgb is not None and (np.shape(rgb) != (intrinsics.height, intrinsics.width, 3)
                            or np.asarray(rgb).dtype != np.uint8):
        raise GeodeError(f'rgb must be {intrinsics.height}x{intrinsics.width}x3 uint8, got '
                         f'{np.shape(rgb)} {np.asarray(rgb).dtype}')
    z = _depth_m(depth, depth_scale, stride)
    lo = np.float32(max(float(min_depth), 0.0)) or _TINY
    hi = np.float32(max_depth)
    all_valid = bool(z.min() >= lo and z.max() <= hi)  # two SIMD reductions; NaN -> False
    if not all_valid:
        valid = (z >= lo) & (z <= hi)  # NaN compares False
        z = np.where(valid, z, np.float32(np.nan))
    T = np.eye(4) if T_world_cam is None else np.asarray(T_world_cam, dtype=np.float64)
    inv = 1.0 / float(voxel)
    u = (np.arange(0, intrinsics.width, stride) - intrinsics.cx) * (inv / intrinsics.fx)
    v = (np.arange(0, intrinsics.height, stride) - intrinsics.cy) * (inv / intrinsics.fy)
    scaled, q, dims = [], [], []
    with np.errstate(invalid='ignore'):  # NaN (invalid) pixels: keys replaced below
        for k in range(3):  # s_k = (world_k - t_k) / voxel = z (R_k0 u' + R_k1 v' + R_k2 / voxel)
            s = np.add((T[k, 1] * v + T[k, 2] * inv).astype(np.float32)[:, None],
                       (T[k, 0] * u).astype(np.float32)[None, :])
            s *= z
            s = s.reshape(-1)
            lo_k, hi_k = float(np.fmin.reduce(s)), float(np.fmax.reduce(s))
            if not np.isfinite(lo_k):
                return np.zeros((0, 3), np.float32), (None if rgb is None
                                                      else np.zeros((0, 3), np.uint8))
            if hi_k - lo_k >= 2.0**30:
                raise GeodeError('point extent too large for this voxel size')
            # Open3D's grid starts at min - voxel / 2: q = floor(s - lo + 1/2), and
            # s - lo + 1/2 >= 1/2, so the float -> int truncation is the floor.
            qk = np.empty(s.size, np.int32)
            np.subtract(s, np.float32(lo_k - 0.5), out=qk, casting='unsafe')
            q.append(qk)
            dims.append(int(hi_k - lo_k + 0.5) + 2)  # +1 slack for float32 rounding
            scaled.append(s)
    if float(dims[0]) * dims[1] * dims[2] >= 2.0**62:
        raise GeodeError('point extent too large for this voxel size')
    keys = q[0].astype(np.int64) if float(dims[0]) * dims[1] * dims[2] >= 2.0**31 else q[0]
    keys *= dims[1]
    keys += q[1]
    keys *= dims[2]
    keys += q[2]
    if not all_valid:
        np.copyto(keys, -1, where=~valid.reshape(-1))  # one sentinel group, sorted first
    inverse, ukeys, counts = group_ids(keys)
    drop = 0 if all_valid else 1
    xyz = group_means(inverse, ukeys.size, scaled, counts)[drop:]
    xyz *= float(voxel)
    xyz += T[:3, 3]
    xyz = xyz.astype(np.float32)
    colours = None
    if rgb is not None:
        c = np.asarray(rgb)[::stride, ::stride].reshape(-1, 3)
        colours = colour_means(inverse, ukeys.size, c, counts, drop)
    return xyz, colours
