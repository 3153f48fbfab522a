"""Rigid-pose math shared by the engine, readers and the ROS layer.

Quaternions at every public function here are ROS order (x, y, z, w);
transforms3d, used inside, wants (w, x, y, z): the swap happens only here.
Poses are 4x4 float64 homogeneous matrices ``T_a_b`` (maps frame b into frame a).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from transforms3d import quaternions

from geode_ros.config import check_choice
from geode_ros.errors import GeodeError

log = logging.getLogger(__name__)

# max |R^T R - I| of a pose's rotation: exact enough below RIGID_TOL; re-orthonormalised
# (SVD, nearest rotation) with one warning per process up to REPAIR_TOL, which real
# datasets need (7-Scenes poses are stored to ~1.2e-4); refused above it.
RIGID_TOL = 1e-4
REPAIR_TOL = 1e-2
_RIGID_TOL = RIGID_TOL  # last-row tolerance
_warned_repair = False


def quat_xyzw_to_matrix(quat_xyzw: Sequence[float] | np.ndarray) -> np.ndarray:
    """3x3 rotation from a quaternion in ROS order (x, y, z, w); normalises it first."""
    q = np.asarray(quat_xyzw, dtype=np.float64).reshape(-1)
    if q.shape != (4,) or not np.all(np.isfinite(q)):
        raise GeodeError(f'quaternion (x, y, z, w) must be 4 finite numbers, got {q.tolist()}')
    norm = float(np.linalg.norm(q))
    if norm < 1e-9:
        raise GeodeError('quaternion (x, y, z, w) has zero norm; it is not a rotation')
    x, y, z, w = q / norm
    return quaternions.quat2mat([w, x, y, z])


def matrix_to_quat_xyzw(rot: np.ndarray) -> np.ndarray:
    """Quaternion in ROS order (x, y, z, w), w >= 0, from a 3x3 rotation or 4x4 pose."""
    r = np.asarray(rot, dtype=np.float64)
    if r.shape == (4, 4):
        r = r[:3, :3]
    if r.shape != (3, 3):
        raise GeodeError(f'rotation must be 3x3 or 4x4, got shape {r.shape}')
    w, x, y, z = quaternions.mat2quat(r)
    q = np.array([x, y, z, w])
    return -q if w < 0 else q


def pose_to_matrix(
    translation: Sequence[float] | np.ndarray, quat_xyzw: Sequence[float] | np.ndarray
) -> np.ndarray:
    """4x4 pose from translation (x, y, z) and quaternion in ROS order (x, y, z, w)."""
    t = np.asarray(translation, dtype=np.float64).reshape(-1)
    if t.shape != (3,) or not np.all(np.isfinite(t)):
        raise GeodeError(f'translation must be 3 finite numbers, got {t.tolist()}')
    T = np.eye(4)
    T[:3, :3] = quat_xyzw_to_matrix(quat_xyzw)
    T[:3, 3] = t
    return T


def matrix_to_pose(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(translation [3], quaternion in ROS order (x, y, z, w) [4]) from a 4x4 pose."""
    T = check_pose(T)
    return T[:3, 3].copy(), matrix_to_quat_xyzw(T[:3, :3])


def invert_transform(T: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4 pose using R^T (exact, unlike a general inverse)."""
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (4, 4):
        raise GeodeError(f'pose must be 4x4, got shape {T.shape}')
    out = np.eye(4)
    rt = T[:3, :3].T
    out[:3, :3] = rt
    out[:3, 3] = -rt @ T[:3, 3]
    return out


def compose(*Ts: np.ndarray) -> np.ndarray:
    """Chain poses left to right: compose(T_a_b, T_b_c) == T_a_c (a TF chain)."""
    out = np.eye(4)
    for T in Ts:
        T = np.asarray(T, dtype=np.float64)
        if T.shape != (4, 4):
            raise GeodeError(f'pose must be 4x4, got shape {T.shape}')
        out = out @ T
    return out


def yaw_to_quat_xyzw(yaw: float) -> np.ndarray:
    """Quaternion in ROS order (x, y, z, w) for a rotation of ``yaw`` rad about +z."""
    half = 0.5 * float(yaw)
    return np.array([0.0, 0.0, np.sin(half), np.cos(half)])


def check_pose(T: object, name: str = 'pose') -> np.ndarray:
    """Validated float64 copy of a 4x4 rigid pose; GeodeError if shape/finite/rigid fails.

    A rotation within ``REPAIR_TOL`` of orthonormal is replaced by the nearest rotation
    (see ``nearest_rotation``); a pose built from unit quaternions passes unchanged.
    """
    try:
        M = np.array(T, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise GeodeError(f'{name} must be a 4x4 numeric matrix: {exc}') from exc
    if M.shape != (4, 4):
        raise GeodeError(f'{name} must be a 4x4 matrix, got shape {M.shape}')
    if not np.all(np.isfinite(M)):
        raise GeodeError(f'{name} contains NaN or inf; check the TF / pose source')
    if not np.allclose(M[3], [0.0, 0.0, 0.0, 1.0], atol=_RIGID_TOL):
        raise GeodeError(f'{name} last row must be [0, 0, 0, 1], got {M[3].tolist()}')
    M[:3, :3] = nearest_rotation(M[:3, :3], name)
    M[3] = (0.0, 0.0, 0.0, 1.0)
    return M


def orthonormality_error(R: np.ndarray) -> float:
    """max |R^T R - I| of a 3x3 matrix (0 for an exact rotation)."""
    R = np.asarray(R, dtype=np.float64)
    return float(np.max(np.abs(R.T @ R - np.eye(3))))


def nearest_rotation(R: np.ndarray, name: str = 'pose') -> np.ndarray:
    """``R`` when it is a rotation to ``RIGID_TOL``; the nearest rotation (SVD) when it is
    within ``REPAIR_TOL`` (warning once per process); GeodeError with the numbers beyond.
    """
    global _warned_repair
    R = np.asarray(R, dtype=np.float64)
    err, det = orthonormality_error(R), float(np.linalg.det(R))
    if err <= RIGID_TOL and det > 0:
        return R
    if err > REPAIR_TOL or det <= 0:
        raise GeodeError(f'{name} rotation is not a rotation: max |R^T R - I| = {err:.3g} '
                         f'(accepted up to {REPAIR_TOL:g}, re-orthonormalised above '
                         f'{RIGID_TOL:g}), det = {det:.4g} (must be +1)')
    U, _, Vt = np.linalg.svd(R)
    fixed = U @ Vt
    if np.linalg.det(fixed) < 0:  # cannot happen for det(R) > 0 this close; kept for safety
        U[:, -1] *= -1
        fixed = U @ Vt
    if not _warned_repair:
        _warned_repair = True
        log.warning('%s rotation is off by max |R^T R - I| = %.3g (> %g): re-orthonormalised '
                    'with SVD; further poses like it are fixed silently', name, err, RIGID_TOL)
    return fixed


def transform_points(T: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """Apply a 4x4 pose to [N, 3] points, keeping float32 (one matmul, no homogeneous copy)."""
    R = np.asarray(T[:3, :3], dtype=np.float32)
    t = np.asarray(T[:3, 3], dtype=np.float32)
    return (np.asarray(xyz, dtype=np.float32) @ R.T) + t


# ---------------------------------------------------------------- world up
# Scene memory, answers and the model assume the fixed frame is z-up (REP 103: x forward,
# y left, z up; the floor is the lowest z). Datasets that are not (7-Scenes and TUM
# worlds are defined by their tracking systems, often y-down) are rotated on the way in.
UP_AXES = ('z', '-z', 'y', '-y', 'x', '-x')


def axis_vector(axis: str) -> np.ndarray:
    """Unit vector for 'x', '-x', 'y', '-y', 'z' or '-z'."""
    check_choice('up axis', axis, UP_AXES)
    v = np.zeros(3)
    v['xyz'.index(axis[-1])] = -1.0 if axis.startswith('-') else 1.0
    return v


def rotation_to_z_up(up: Sequence[float] | np.ndarray) -> np.ndarray:
    """4x4 rotation (no translation) taking direction ``up`` to +z by the shortest arc."""
    u = np.asarray(up, dtype=np.float64).reshape(3)
    norm = float(np.linalg.norm(u))
    if not np.isfinite(norm) or norm < 1e-9:
        raise GeodeError(f'up direction must be a non-zero 3-vector, got {u.tolist()}')
    u = u / norm
    z = np.array([0.0, 0.0, 1.0])
    c = float(u @ z)
    T = np.eye(4)
    if c < -1.0 + 1e-12:  # up is -z: half a turn about x
        T[:3, :3] = np.diag([1.0, -1.0, -1.0])
        return T
    k = np.cross(u, z)
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    T[:3, :3] = np.eye(3) + K + K @ K / (1.0 + c)  # Rodrigues for unit u, z
    return T


def up_from_cameras(T_world_cams: Sequence[np.ndarray]) -> np.ndarray:
    """World up estimated from camera poses: minus the mean optical y (image down) axis.

    Holds for hand-held and robot-mounted cameras that are not upside down; the
    estimate averages out tilt over a sweep.
    """
    downs = [np.asarray(T, dtype=np.float64)[:3, 1] for T in T_world_cams]
    if not downs:
        raise GeodeError('no camera poses to estimate the up direction from')
    mean = np.mean(downs, axis=0)
    if np.linalg.norm(mean) < 0.3:
        raise GeodeError('camera poses do not agree on a down direction (looking straight '
                         'up/down, or upside down): give the up axis explicitly')
    return -mean / np.linalg.norm(mean)
