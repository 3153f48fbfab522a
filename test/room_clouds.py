"""A voxelised room cloud with known objects (shared by the proposal and object tests)."""

from __future__ import annotations

import numpy as np

VOXEL = 0.05
WALL, FLOOR = (220, 214, 199), (158, 140, 120)
TABLE, MUG, BOX = (115, 71, 36), (235, 51, 158), (199, 158, 107)


def grid(lo, hi) -> np.ndarray:
    axes = [np.arange(a, b + 1e-9, VOXEL) for a, b in zip(lo, hi)]
    return np.stack(np.meshgrid(*axes, indexing='ij'), -1).reshape(-1, 3)


def shell(lo, hi) -> np.ndarray:
    """Surface voxels of an axis-aligned box."""
    g = grid(lo, hi)
    on = np.zeros(len(g), bool)
    for ax in range(3):
        on |= np.isclose(g[:, ax], lo[ax]) | np.isclose(g[:, ax], g[:, ax].max())
    return g[on]


def room_cloud(offset=(0.0, 0.0)) -> tuple[np.ndarray, np.ndarray, dict]:
    """A 4 x 3 x 2.5 m room: a table with a mug on it and a box on the floor."""
    parts = {
        'floor': (grid((0, 0, 0), (4, 3, 0)), FLOOR),
        'ceiling': (grid((0, 0, 2.5), (4, 3, 2.5)), WALL),
        'wall_x0': (grid((0, 0, 0), (0, 3, 2.5)), WALL),
        'wall_x1': (grid((4, 0, 0), (4, 3, 2.5)), WALL),
        'wall_y0': (grid((0, 0, 0), (4, 0, 2.5)), WALL),
        'wall_y1': (grid((0, 3, 0), (4, 3, 2.5)), WALL),
        'table': (shell((1.0, 1.0, 0.05), (2.0, 1.6, 0.75)), TABLE),
        'mug': (grid((1.45, 1.25, 0.8), (1.55, 1.35, 0.9)), MUG),
        'box': (shell((3.0, 2.0, 0.05), (3.4, 2.4, 0.4)), BOX),
    }
    pts = np.concatenate([p for p, _ in parts.values()]).astype(np.float32)
    cols = np.concatenate([np.tile(c, (len(p), 1)) for p, c in parts.values()]).astype(np.uint8)
    pts[:, :2] += offset
    return pts, cols, parts
