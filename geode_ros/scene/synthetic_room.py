"""Analytic RGB-D renderer of a box room with one box inside, for tests and benchmarks.

Depth is exact ray/box intersection (vectorised slab test), so tests can compare
fused clouds and room sizes against known geometry without a simulator.
"""

from __future__ import annotations

import numpy as np

from geode_ros.scene.geometry import pose_to_matrix
from geode_ros.scene.types import CameraIntrinsics, RGBDFrame

# Optical camera (x right, y down, z forward) looking along world +x, z up.
_R_WORLD_OPT = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def _exit_distance(o: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Distance at which rays from inside the box [lo, hi] leave it, and the axis hit."""
    with np.errstate(divide='ignore', invalid='ignore'):
        t = np.where(d > 0, (hi - o) / d, (lo - o) / d)
    t = np.where(np.abs(d) < 1e-12, np.inf, t)
    return t.min(axis=1), t.argmin(axis=1)


def _entry_distance(o: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    with np.errstate(divide='ignore', invalid='ignore'):
        inv = 1.0 / d
        t1, t2 = (lo - o) * inv, (hi - o) * inv
    tnear = np.nanmax(np.minimum(t1, t2), axis=1)
    tfar = np.nanmin(np.maximum(t1, t2), axis=1)
    return np.where((tfar >= tnear) & (tnear > 0), tnear, np.inf)


def render_room(T_world_cam: np.ndarray, intr: CameraIntrinsics,
                room: tuple[float, float, float] = (5.0, 4.0, 2.6),
                box_lo: tuple[float, float, float] = (2.0, 1.5, 0.0),
                box_hi: tuple[float, float, float] = (2.8, 2.3, 0.9)) -> RGBDFrame:
    """RGB-D frame seen from ``T_world_cam`` inside room [0, room] with one box (z up)."""
    u, v = np.meshgrid(np.arange(intr.width), np.arange(intr.height))
    rays = np.stack([(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy, np.ones_like(u, float)],
                    axis=-1).reshape(-1, 3)
    d = rays @ T_world_cam[:3, :3].T  # world directions with optical z = 1
    o = np.broadcast_to(T_world_cam[:3, 3], d.shape)
    t_wall, axis = _exit_distance(o, d, np.zeros(3), np.asarray(room, float))
    t_box = _entry_distance(o, d, np.asarray(box_lo, float), np.asarray(box_hi, float))
    hit_box = t_box < t_wall
    depth = np.where(hit_box, t_box, t_wall).astype(np.float32)  # optical z, since ray z = 1
    palette = np.array([[200, 180, 160], [170, 190, 210], [120, 110, 100], [220, 60, 40]],
                       np.uint8)
    colour = palette[np.where(hit_box, 3, axis)]
    shape = (intr.height, intr.width)
    return RGBDFrame(colour.reshape(*shape, 3), depth.reshape(shape), intr, T_world_cam)


def orbit_poses(n: int, room: tuple[float, float, float] = (5.0, 4.0, 2.6),
                height: float = 1.4) -> list[np.ndarray]:
    """Camera poses turning in place at the room centre (one full turn over n frames)."""
    poses = []
    for yaw in np.linspace(0.0, 2.0 * np.pi, n, endpoint=False):
        T = pose_to_matrix([room[0] / 2, room[1] / 2 - 0.5, height],
                           [0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)])
        T[:3, :3] = T[:3, :3] @ _R_WORLD_OPT
        poses.append(T)
    return poses


def synthetic_frames(n: int, width: int = 160, height: int = 120) -> list[RGBDFrame]:
    """``n`` frames of the default room from a camera turning in place."""
    f = 0.9 * width
    intr = CameraIntrinsics(f, f, (width - 1) / 2.0, (height - 1) / 2.0, width, height)
    frames = []
    for i, T in enumerate(orbit_poses(n)):
        frame = render_room(T, intr)
        frame.stamp = i / 30.0
        frames.append(frame)
    return frames
