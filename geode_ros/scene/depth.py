"""Depth back-projection and voxel downsampling, vectorised (numpy or torch).

The pixel model matches Open3D's ``PointCloud.create_from_rgbd_image``: pixel
(u, v) with depth z maps to ((u - cx) z / fx, (v - cy) z / fy, z) in the optical
frame; so the two pipelines give the same cloud (checked by ``geode-bench ingest``).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.scene.types import CameraIntrinsics

_TINY = np.float32(np.nextafter(np.float32(0), np.float32(1)))
_MAX_RAY = 1e6  # |x/z| of a pixel ray: beyond this the intrinsics are not a camera
_MAX_COORD = 1e12  # |pose entry| (m): float32 world points stay finite below this


@functools.lru_cache(maxsize=16)
def pixel_rays(intrinsics: CameraIntrinsics, stride: int = 1) -> np.ndarray:
    """[H/s * W/s, 3] float32 rays (z = 1) per kept pixel; cached per calibration + stride."""
    rx, ry = _ray_components(intrinsics, stride)
    rays = np.stack([rx, ry, np.ones_like(rx)], axis=1)
    rays.setflags(write=False)
    return rays


@functools.lru_cache(maxsize=16)
def _ray_components(intrinsics: CameraIntrinsics, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat x/z and y/z of every kept pixel: 1D gathers beat [N, 3] row gathers 3x."""
    u = (np.arange(0, intrinsics.width, stride, dtype=np.float64) - intrinsics.cx) / intrinsics.fx
    v = (np.arange(0, intrinsics.height, stride, dtype=np.float64) - intrinsics.cy) / intrinsics.fy
    rx = np.broadcast_to(u[None, :], (v.size, u.size)).astype(np.float32).ravel()
    ry = np.broadcast_to(v[:, None], (v.size, u.size)).astype(np.float32).ravel()
    rx.setflags(write=False)
    ry.setflags(write=False)
    return rx, ry


def _check_inputs(depth: Any, intrinsics: CameraIntrinsics, stride: int) -> None:
    if not isinstance(intrinsics, CameraIntrinsics):
        raise GeodeError(f'intrinsics must be CameraIntrinsics, got {type(intrinsics).__name__}')
    if getattr(depth, 'ndim', None) != 2:
        raise GeodeError(f'depth must be HxW, got shape {tuple(getattr(depth, "shape", ()))}')
    if tuple(depth.shape) != (intrinsics.height, intrinsics.width):
        raise GeodeError(f'depth shape {tuple(depth.shape)} does not match intrinsics '
                         f'{intrinsics.height}x{intrinsics.width}')
    if int(stride) < 1:
        raise GeodeError(f'stride must be >= 1, got {stride}')
    k = (intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy)
    if not all(np.isfinite(k)) or min(k[:2]) <= 0:
        raise GeodeError(f'intrinsics fx, fy, cx, cy must be finite with fx, fy > 0, got {k}')
    extent = max(intrinsics.width, intrinsics.height) + abs(intrinsics.cx) + abs(intrinsics.cy)
    if extent / min(k[:2]) > _MAX_RAY:  # rays would overflow float32 (fx of 1e-300 ...)
        raise GeodeError(f'intrinsics give rays wider than {_MAX_RAY:g}: fx={k[0]}, '
                         f'fy={k[1]}, cx={k[2]}, cy={k[3]} are not a camera')


def _checked_pose32(T_world_cam: Any) -> np.ndarray:
    T = np.asarray(T_world_cam, dtype=np.float64)
    if T.shape != (4, 4) or not np.all(np.abs(T) < _MAX_COORD):
        raise GeodeError(f'T_world_cam must be a finite 4x4 pose within {_MAX_COORD:g} m')
    return T.astype(np.float32)


def depth_to_points(
    depth: Any,
    intrinsics: CameraIntrinsics,
    T_world_cam: np.ndarray | None = None,
    rgb: Any = None,
    min_depth: float = 0.0,
    max_depth: float = float('inf'),
    stride: int = 1,
) -> tuple[Any, Any]:
    """(xyz [N, 3] float32, rgb [N, 3] uint8 or None) from float32 metres depth.

    Drops 0, NaN, inf and depths outside [min_depth, max_depth]. Torch tensors are
    dispatched to ``depth_to_points_torch`` (results stay on their device).
    """
    if type(depth).__module__.startswith('torch'):
        return depth_to_points_torch(depth, intrinsics, T_world_cam, rgb, min_depth, max_depth,
                                     stride)
    _check_inputs(depth, intrinsics, stride)
    d = np.asarray(depth)
    if d.dtype != np.float32:
        d = d.astype(np.float32)
    if stride > 1:
        d = d[::stride, ::stride]
    d = d.reshape(-1)
    lo = np.float32(max(float(min_depth), 0.0)) or _TINY
    mask = (d >= lo) & (d <= np.float32(max_depth))  # NaN compares False
    idx = np.flatnonzero(mask)
    z = d[idx]
    rx, ry = _ray_components(intrinsics, int(stride))
    x = rx[idx] * z
    y = ry[idx] * z
    pts = np.empty((idx.size, 3), dtype=np.float32)
    if T_world_cam is None:
        pts[:, 0], pts[:, 1], pts[:, 2] = x, y, z
    else:
        T = _checked_pose32(T_world_cam)
        for k in range(3):  # world_k = R_k0 x + R_k1 y + R_k2 z + t_k, channel by channel
            pts[:, k] = T[k, 0] * x + T[k, 1] * y + T[k, 2] * z + T[k, 3]
    colours = None
    if rgb is not None:
        c = np.asarray(rgb)
        if c.shape != (intrinsics.height, intrinsics.width, 3) or c.dtype != np.uint8:
            raise GeodeError(f'rgb must be {intrinsics.height}x{intrinsics.width}x3 uint8, got '
                             f'{c.shape} {c.dtype}')
        if stride > 1:
            c = c[::stride, ::stride]
        colours = np.take(c.reshape(-1, 3), idx, axis=0)
    return pts, colours


def depth_to_points_torch(
    depth: Any,
    intrinsics: CameraIntrinsics,
    T_world_cam: Any = None,
    rgb: Any = None,
    min_depth: float = 0.0,
    max_depth: float = float('inf'),
    stride: int = 1,
    device: Any = None,
) -> tuple[Any, Any]:
    """Torch twin of ``depth_to_points`` on ``device`` (default: depth's device)."""
    import torch  # local: keep torch off the import path of ROS-only users

    _check_inputs(depth, intrinsics, stride)
    d = torch.as_tensor(depth, device=device).to(torch.float32)
    dev = d.device
    if stride > 1:
        d = d[::stride, ::stride]
    rays = torch.from_numpy(pixel_rays(intrinsics, int(stride)).copy()).to(dev)
    d = d.reshape(-1)
    lo = max(float(min_depth), float(_TINY))
    mask = (d >= lo) & (d <= float(max_depth))
    pts = rays[mask] * d[mask][:, None]
    if T_world_cam is not None:
        T = torch.as_tensor(_checked_pose32(T_world_cam), device=dev)
        pts = pts @ T[:3, :3].T + T[:3, 3]
    colours = None
    if rgb is not None:
        c = torch.as_tensor(rgb, device=dev)
        if tuple(c.shape) != (intrinsics.height, intrinsics.width, 3):
            raise GeodeError(f'rgb must be {intrinsics.height}x{intrinsics.width}x3, '
                             f'got {tuple(c.shape)}')
        if stride > 1:
            c = c[::stride, ::stride]
        colours = c.reshape(-1, 3)[mask].to(torch.uint8)
    return pts, colours


def group_ids(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inverse [N] intp, unique sorted int64 keys [G], float64 counts [G]) of integer keys.

    Runs of equal neighbouring keys (adjacent pixels in one voxel) collapse first,
    so only run heads are sorted; when key and run index fit together in 63 bits we
    sort one packed int64 array (numpy's SIMD sort), about 3x faster than argsort.
    Per-group sums are then ``np.bincount(inverse, weights)``: no gathers, no reduceat.
    """
    n = int(keys.size)
    if n == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.int64), np.zeros(0, np.float64)
    head = np.empty(n, dtype=bool)
    head[0] = True
    np.not_equal(keys[1:], keys[:-1], out=head[1:])
    starts = np.flatnonzero(head)
    rk = keys[starts].astype(np.int64)
    r = int(starts.size)
    nbits = max(r.bit_length(), 1)
    kmin = int(rk.min())
    if int(rk.max()) - kmin < (1 << (62 - nbits)):
        rk -= kmin
        rk <<= nbits
        rk |= np.arange(r, dtype=np.int64)
        rk.sort()
        order = rk & ((1 << nbits) - 1)
        sk = (rk >> nbits) + kmin
    else:
        order = np.argsort(rk, kind='stable')
        sk = rk[order]
    new = np.empty(r, dtype=bool)
    new[0] = True
    np.not_equal(sk[1:], sk[:-1], out=new[1:])
    gid = np.cumsum(new)
    gid -= 1
    run_gid = np.empty(r, dtype=np.intp)  # intp: bincount converts int32 slowly (3x)
    run_gid[order] = gid
    lengths = np.diff(starts, append=n)
    ukeys = sk[new]
    counts = np.bincount(run_gid, weights=lengths, minlength=ukeys.size)
    return np.repeat(run_gid, lengths), ukeys, counts


def group_means(inverse: np.ndarray, groups: int, columns: Any,
                counts: np.ndarray) -> np.ndarray:
    """[G, C] float64 per-group means of C value columns (1D arrays or [N, C])."""
    cols = [columns[:, k] for k in range(columns.shape[1])] if hasattr(columns, 'shape') \
        else list(columns)
    out = np.empty((groups, len(cols)), dtype=np.float64)
    for k, col in enumerate(cols):
        out[:, k] = np.bincount(inverse, weights=col, minlength=groups)
    out /= counts[:, None]
    return out


def colour_means(inverse: np.ndarray, groups: int, rgb: np.ndarray, counts: np.ndarray,
                 drop: int = 0) -> np.ndarray:
    """[G - drop, 3] uint8 rounded mean colours of [N, 3] uint8 ``rgb`` (first ``drop`` skipped).

    Groups under 512 points sum all three channels in one bincount: r * 2^34 +
    g * 2^17 + b stays an exact integer in float64 (each channel sum < 2^17).
    """
    if groups <= drop or counts[drop:].max() >= 512:
        return np.rint(group_means(inverse, groups, rgb, counts)[drop:]).astype(np.uint8)
    packed = rgb[:, 0].astype(np.float64)
    packed *= 2.0**17
    packed += rgb[:, 1]
    packed *= 2.0**17
    packed += rgb[:, 2]
    total = np.bincount(inverse, weights=packed, minlength=groups)[drop:].astype(np.int64)
    sums = np.stack([total >> 34, (total >> 17) & 0x1FFFF, total & 0x1FFFF], axis=1)
    return np.rint(sums / counts[drop:, None]).astype(np.uint8)


def voxel_downsample(
    xyz: np.ndarray, rgb: np.ndarray | None, voxel: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean point (and colour) per occupied voxel, the grid anchored like Open3D's.

    Open3D anchors voxels at ``min_bound - voxel/2``; we do the same, so point
    counts match ``PointCloud.voxel_down_sample``. Returns float32 xyz, uint8 rgb.
    """
    xyz = np.asarray(xyz)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise GeodeError(f'xyz must be [N, 3], got shape {xyz.shape}')
    if not voxel > 0:
        raise GeodeError(f'voxel size must be positive, got {voxel}')
    if xyz.shape[0] == 0:
        return xyz.astype(np.float32), (None if rgb is None else np.zeros((0, 3), np.uint8))
    q, dims = [], []
    for k in range(3):  # (p - (min - voxel/2)) / voxel >= 0.5, so truncation == floor
        col = xyz[:, k]
        qk = ((col - (col.min() - voxel / 2.0)) * (1.0 / voxel)).astype(np.int64)
        q.append(qk)
        dims.append(int(qk.max()) + 1)
    if float(dims[0]) * float(dims[1]) * float(dims[2]) >= 2.0**62:
        raise GeodeError('point extent too large for this voxel size')
    keys = (q[0] * dims[1] + q[1]) * dims[2] + q[2]
    inverse, ukeys, counts = group_ids(keys)
    out_xyz = group_means(inverse, ukeys.size, xyz, counts).astype(np.float32)
    out_rgb = None
    if rgb is not None:
        out_rgb = colour_means(inverse, ukeys.size, np.asarray(rgb), counts)
    return out_xyz, out_rgb
