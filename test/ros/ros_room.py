"""A synthetic RGB-D camera inside a box room, for end-to-end node tests (pure numpy)."""

from __future__ import annotations

import numpy as np

from geode_ros.scene.geometry import pose_to_matrix, yaw_to_quat_xyzw

ROOM = (-2.0, 2.0, -2.5, 2.5, 0.0, 2.6)  # x0, x1, y0, y1, floor, ceiling: 4 m x 5 m = 20 m^2
WIDTH, HEIGHT, FOCAL = 160, 120, 100.0


def camera_pose(yaw: float, pitch: float = -0.25, position=(0.3, -0.2, 1.2)) -> np.ndarray:
    """T_world_cam of an optical frame (z forward, x right, y down) looking along ``yaw``."""
    R_look = pose_to_matrix([0, 0, 0], yaw_to_quat_xyzw(yaw))[:3, :3]
    # Base optical frame looking along +x: z_opt = +x, x_opt = -y, y_opt = -z.
    base = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    c, s = np.cos(pitch), np.sin(pitch)
    tilt = np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])  # about optical x
    T = np.eye(4)
    T[:3, :3] = R_look @ base @ tilt
    T[:3, 3] = position
    return T


def render_depth(T_world_cam: np.ndarray) -> np.ndarray:
    """HxW float32 z-depth (m) of the room's floor, ceiling and walls seen from the camera."""
    u, v = np.meshgrid(np.arange(WIDTH) + 0.5, np.arange(HEIGHT) + 0.5)
    rays = np.stack([(u - WIDTH / 2) / FOCAL, (v - HEIGHT / 2) / FOCAL, np.ones_like(u)], -1)
    d = rays @ T_world_cam[:3, :3].T  # [H, W, 3] world directions with unit optical z
    o = T_world_cam[:3, 3]
    t = np.full(d.shape[:2], np.inf)
    with np.errstate(divide='ignore', invalid='ignore'):
        for axis, lo, hi in ((0, ROOM[0], ROOM[1]), (1, ROOM[2], ROOM[3]), (2, ROOM[4], ROOM[5])):
            for plane in (lo, hi):
                ti = (plane - o[axis]) / d[..., axis]
                t = np.where((ti > 1e-6) & (ti < t), ti, t)
    return t.astype(np.float32)  # t along a ray with optical z = 1 is the z-depth


def render_rgb(depth: np.ndarray) -> np.ndarray:
    """A constant-colour image (shaded a little by depth)."""
    shade = np.clip(1.0 - depth / 10.0, 0.3, 1.0)[..., None]
    return (np.array([200, 180, 150]) * shade).astype(np.uint8)
