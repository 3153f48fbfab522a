"""Physical bounds on sensor input: what a camera, a depth sensor and a pose source can produce.

Finite is not enough: one pose 1e30 m away or a focal length of 1e-300 px is finite,
passes every shape check, and poisons the fused cloud for good. These checks run
before anything reaches scene memory; each failure raises ``InputRejected`` with a
stable ``reason`` code, so a rejected message is counted and leaves memory untouched.
The bounds are ``SceneConfig`` fields (ROS parameters ``scene.max_translation_m`` ...).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from geode_ros.errors import InputRejected
from geode_ros.scene.config import SceneConfig
from geode_ros.scene.types import CameraIntrinsics

MAX_IMAGE_SIDE = 16384
"""Largest image width/height accepted (bigger than any camera's; bounds decode memory)."""
MIN_FOV_DEG, MAX_FOV_DEG = 0.5, 179.0
"""Field of view a pinhole model can describe: bounds the focal length for an image size."""
PRINCIPAL_POINT_MARGIN = 0.5
"""How far (fraction of the image size) the principal point may lie outside the image."""

_DEFAULT = SceneConfig()


def check_stamp(stamp: float, what: str, cfg: SceneConfig = _DEFAULT,
                now: float | None = None) -> float:
    """``stamp`` (s) if finite, >= 0 and not more than ``max_future_s`` after ``now``."""
    now = time.time() if now is None else float(now)
    if not math.isfinite(stamp) or stamp < 0:
        raise InputRejected('stamp_invalid', f'{what} stamp {stamp} is not a valid time')
    if stamp > now + cfg.max_future_s:
        raise InputRejected('stamp_future', f'{what} stamp {stamp:.3f} is {stamp - now:.0f} s '
                            f'in the future (more than scene.max_future_s={cfg.max_future_s})')
    return stamp


def check_quaternion(q_xyzw: Sequence[float], what: str, cfg: SceneConfig = _DEFAULT) -> None:
    """A unit quaternion up to ``quaternion_norm_tol``; checked before anyone normalises it."""
    q = np.asarray(q_xyzw, np.float64).reshape(-1)
    if q.shape != (4,) or not np.all(np.isfinite(q)) or np.abs(q).max() > 2.0:
        raise InputRejected('pose_quaternion', f'{what} quaternion {q.tolist()} is not a '
                            'rotation (needs 4 finite numbers of norm 1)')
    norm = float(np.sqrt(q @ q))  # |q_i| <= 2: no overflow
    if norm < 1e-9:
        raise InputRejected('pose_quaternion', f'{what} quaternion has zero norm; it is not a '
                            'rotation')
    if abs(norm - 1.0) > cfg.quaternion_norm_tol:
        raise InputRejected('pose_quaternion', f'{what} quaternion has norm {norm:.6g}; a '
                            f'rotation needs 1 (+-scene.quaternion_norm_tol='
                            f'{cfg.quaternion_norm_tol})')


def check_translation(t_xyz: Sequence[float], what: str, cfg: SceneConfig = _DEFAULT) -> None:
    """Finite and within ``max_translation_m`` of the origin."""
    t = np.asarray(t_xyz, np.float64).reshape(-1)
    if t.shape != (3,) or not np.all(np.isfinite(t)):
        raise InputRejected('pose_translation', f'{what} translation must be 3 finite numbers, '
                            f'got {t.tolist()}')
    if np.abs(t).max() > cfg.max_translation_m:
        raise InputRejected('pose_translation', f'{what} translation {t.tolist()} is farther '
                            f'than scene.max_translation_m={cfg.max_translation_m} m')


def check_pose_matrix(T: np.ndarray, what: str, cfg: SceneConfig = _DEFAULT) -> None:
    """Translation bound of a 4x4 pose (e.g. one composed from a TF chain)."""
    check_translation(np.asarray(T, np.float64)[:3, 3], what, cfg)


def check_intrinsics(intr: CameraIntrinsics) -> None:
    """Intrinsics a camera of that image size can have: sane field of view, principal point."""
    w, h = intr.width, intr.height
    if not (0 < w <= MAX_IMAGE_SIDE and 0 < h <= MAX_IMAGE_SIDE):
        raise InputRejected('intrinsics', f'CameraInfo size {w}x{h} is outside 1..'
                            f'{MAX_IMAGE_SIDE}')
    lo = 0.5 / math.tan(math.radians(MAX_FOV_DEG) / 2)  # focal / image side
    hi = 0.5 / math.tan(math.radians(MIN_FOV_DEG) / 2)
    for name, f, side in (('fx', intr.fx, w), ('fy', intr.fy, h)):
        if not (math.isfinite(f) and lo * side <= f <= hi * side):
            raise InputRejected('intrinsics', f'CameraInfo {name}={f!r} px is impossible for a '
                                f'{w}x{h} image (field of view outside {MIN_FOV_DEG}..'
                                f'{MAX_FOV_DEG} deg: {lo * side:.3g}..{hi * side:.3g} px)')
    m = PRINCIPAL_POINT_MARGIN
    for name, c, side in (('cx', intr.cx, w), ('cy', intr.cy, h)):
        if not (math.isfinite(c) and -m * side <= c <= (1 + m) * side):
            raise InputRejected('intrinsics', f'CameraInfo {name}={c!r} px lies far outside the '
                                f'{w}x{h} image')
    if not all(math.isfinite(v) and abs(v) < 1e3 for v in intr.distortion):
        raise InputRejected('intrinsics', 'CameraInfo distortion coefficients are not finite '
                            'or absurdly large')


def sanitise_depth_m(depth: np.ndarray, cfg: SceneConfig = _DEFAULT) -> np.ndarray:
    """Float depth with NaN, inf, negative and beyond-``max_range_m`` pixels set to 0 (invalid).

    Rejects (reason ``depth_invalid``) a frame with no valid pixel at all: it would only
    add an empty keyframe.
    """
    d = np.asarray(depth)
    if d.dtype.kind == 'f':
        bad = ~((d > 0) & (d <= cfg.max_range_m))  # NaN compares False
        if bad.any():
            d = np.where(bad, np.float32(0), d).astype(d.dtype, copy=False)
    if not d.any():
        raise InputRejected('depth_invalid', 'depth image has no valid pixel (all 0, NaN, '
                            'inf, negative or beyond scene.max_range_m)')
    return d


def check_points(xyz: np.ndarray, cfg: SceneConfig = _DEFAULT) -> None:
    """Every finite point within ``max_range_m`` of the sensor (NaN points are skipped later)."""
    if xyz.size == 0:
        return
    with np.errstate(invalid='ignore'):
        far = np.abs(xyz) > cfg.max_range_m  # NaN compares False
    if far.any():
        n = int(far.any(axis=1).sum())
        raise InputRejected('points_range', f'PointCloud2 has {n} point(s) farther than '
                            f'scene.max_range_m={cfg.max_range_m} m from the sensor')
