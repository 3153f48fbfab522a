"""Which way is up in a recorded world: camera poses for a first guess, the floor to refine.

Scene memory is z-up (see ``geometry``). A dataset world defined by its tracker (the
first camera in 7-Scenes, a motion-capture room in TUM) is rotated before ingest by
``rotation_to_z_up(up)``; ``estimate_up`` finds ``up`` from the cameras' mean down
axis (within some degrees: people hold cameras tilted) and then the normal of the
dominant horizontal plane (floor, table tops or ceiling: all share it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.scene.geometry import up_from_cameras

log = logging.getLogger(__name__)

MAX_TILT_DEG = 35.0  # the cameras' guess may be this far from true up
INLIER_M = 0.03
MIN_SUPPORT = 0.05  # share of the points the horizontal plane must hold


def plane_up(points: np.ndarray, guess: np.ndarray, iterations: int = 300,
             seed: int = 0) -> np.ndarray | None:
    """Unit normal (oriented like ``guess``) of the largest plane within MAX_TILT_DEG of
    ``guess`` (RANSAC, then a least-squares fit); None when no plane has MIN_SUPPORT.
    """
    P = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    P = P[np.all(np.isfinite(P), axis=1)]
    if len(P) < 100:
        return None
    rng = np.random.default_rng(seed)
    cos_max = np.cos(np.radians(MAX_TILT_DEG))
    best, best_count = None, int(MIN_SUPPORT * len(P))
    for _ in range(iterations):
        a, b, c = P[rng.choice(len(P), 3, replace=False)]
        n = np.cross(b - a, c - a)
        norm = np.linalg.norm(n)
        if norm < 1e-9 or abs(n @ guess) / norm < cos_max:
            continue
        n /= norm
        inliers = np.abs((P - a) @ n) < INLIER_M
        count = int(inliers.sum())
        if count > best_count:
            best, best_count = inliers, count
    if best is None:
        return None
    Q = P[best] - P[best].mean(axis=0)
    n = np.linalg.svd(Q, full_matrices=False)[2][-1]  # least-squares plane normal
    return n if n @ guess > 0 else -n


def estimate_up(T_world_cams: Sequence[np.ndarray], points: np.ndarray | None = None
                ) -> np.ndarray:
    """World up from camera poses, refined by the dominant horizontal plane of ``points``."""
    guess = up_from_cameras(T_world_cams)
    if points is None:
        return guess
    up = plane_up(points, guess)
    if up is None:
        log.warning('no horizontal plane found to refine the up direction; using the '
                    "cameras' mean down axis (%.3f, %.3f, %.3f)", *guess)
        return guess
    angle = np.degrees(np.arccos(np.clip(up @ guess, -1.0, 1.0)))
    log.info("world up (%.3f, %.3f, %.3f): plane normal, %.1f deg from the cameras' guess",
             *up, angle)
    if not np.all(np.isfinite(up)):
        raise GeodeError('up direction estimate is not finite')
    return up
