"""Exact geometry of yaw-rotated 3D boxes: closest-point distances, intersection, IoU.

A yaw-rotated box is a prism: a rectangle footprint in the xy plane times a z
interval. For two such product sets the squared distance separates,
``d^2 = d_xy(footprint_a, footprint_b)^2 + d_z(interval_a, interval_b)^2``, so the
closest-point distance is exact for any yaw (no surface sampling).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geode_ros.scene.types import Box3D

BoxLike = Box3D | dict[str, Any]


def as_box(b: BoxLike) -> Box3D:
    """Box3D from a Box3D or a ``{label, center, size, yaw}`` dict."""
    return b if isinstance(b, Box3D) else Box3D.from_dict(b)


def footprint(b: BoxLike) -> np.ndarray:
    """Footprint corners [4, 2], counter-clockwise."""
    b = as_box(b)
    hx, hy = float(b.size[0]) / 2.0, float(b.size[1]) / 2.0
    local = np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]])
    c, s = np.cos(b.yaw), np.sin(b.yaw)
    return local @ np.array([[c, s], [-s, c]]) + np.asarray(b.center[:2], dtype=np.float64)


def z_range(b: BoxLike) -> tuple[float, float]:
    b = as_box(b)
    return float(b.center[2] - b.size[2] / 2.0), float(b.center[2] + b.size[2] / 2.0)


def world_extent(b: BoxLike) -> np.ndarray:
    """Axis-aligned extent [[xmin, ymin, zmin], [xmax, ymax, zmax]] of the box."""
    fp = footprint(b)
    z0, z1 = z_range(b)
    return np.array([[*fp.min(0), z0], [*fp.max(0), z1]])


def _point_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances [P, S] and closest points [P, S, 2] from points [P, 2] to segments a->b."""
    ab = b - a  # [S, 2]
    t = np.einsum('psk,sk->ps', p[:, None, :] - a[None], ab) / np.maximum(
        np.einsum('sk,sk->s', ab, ab), 1e-18
    )
    q = a[None] + np.clip(t, 0.0, 1.0)[..., None] * ab[None]  # [P, S, 2]
    return np.linalg.norm(p[:, None, :] - q, axis=-1), q


def _separated(p: np.ndarray, q: np.ndarray) -> bool:
    """Separating-axis test for two convex polygons (touching counts as overlapping)."""
    for poly in (p, q):
        edges = np.roll(poly, -1, axis=0) - poly
        normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
        pp, qq = p @ normals.T, q @ normals.T  # [Np, E], [Nq, E]
        if np.any((pp.max(0) < qq.min(0) - 1e-12) | (qq.max(0) < pp.min(0) - 1e-12)):
            return True
    return False


def polygon_distance(p: np.ndarray, q: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Distance between convex polygons and a pair of closest points (0 when they overlap)."""
    if not _separated(p, q):
        inter = clip_polygon(p, q)
        pt = inter.mean(0) if len(inter) else p.mean(0)
        return 0.0, pt, pt
    best = (np.inf, p[0], q[0])
    for src, dst, swap in ((p, q, False), (q, p, True)):
        d, closest = _point_segment(src, dst, np.roll(dst, -1, axis=0))
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        if d[i, j] < best[0]:
            a, b = src[i], closest[i, j]
            best = (float(d[i, j]), b, a) if swap else (float(d[i, j]), a, b)
    return best


def box_distance(a: BoxLike, b: BoxLike) -> tuple[float, np.ndarray, np.ndarray]:
    """Exact closest-point distance between two yaw-rotated boxes, and the two points [3]."""
    dxy, pa, pb = polygon_distance(footprint(a), footprint(b))
    (a0, a1), (b0, b1) = z_range(a), z_range(b)
    if a1 < b0:
        za, zb = a1, b0
    elif b1 < a0:
        za, zb = a0, b1
    else:
        za = zb = (max(a0, b0) + min(a1, b1)) / 2.0
    dist = float(np.hypot(dxy, zb - za))
    return dist, np.array([*pa, za]), np.array([*pb, zb])


def clip_polygon(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman: the part of convex ``subject`` inside convex CCW ``clip``."""
    out = np.asarray(subject, dtype=np.float64)
    for e0, e1 in zip(clip, np.roll(clip, -1, axis=0)):
        if len(out) == 0:
            break
        edge = e1 - e0
        side = edge[0] * (out[:, 1] - e0[1]) - edge[1] * (out[:, 0] - e0[0])  # >= 0: inside
        nxt, side_n = np.roll(out, -1, axis=0), np.roll(side, -1)
        pts = []
        for k in range(len(out)):
            if side[k] >= 0:
                pts.append(out[k])
            if (side[k] >= 0) != (side_n[k] >= 0):
                t = side[k] / (side[k] - side_n[k])
                pts.append(out[k] + t * (nxt[k] - out[k]))
        out = np.array(pts).reshape(-1, 2)
    return out


def polygon_area(p: np.ndarray) -> float:
    """Shoelace area of a simple polygon [N, 2]."""
    if len(p) < 3:
        return 0.0
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def box_iou_3d(a: BoxLike, b: BoxLike) -> float:
    """Exact 3D IoU of two yaw-rotated boxes: footprint intersection area x z overlap."""
    a, b = as_box(a), as_box(b)
    (a0, a1), (b0, b1) = z_range(a), z_range(b)
    dz = max(0.0, min(a1, b1) - max(a0, b0))
    inter = polygon_area(clip_polygon(footprint(a), footprint(b))) * dz if dz > 0 else 0.0
    union = float(np.prod(a.size)) + float(np.prod(b.size)) - inter
    return float(inter / union) if union > 0 else 0.0


def points_in_box(points: np.ndarray, b: BoxLike, tol: float = 0.0) -> np.ndarray:
    """Boolean mask [N]: which points [N, 3] lie inside the box grown by ``tol`` metres."""
    b = as_box(b)
    c, s = np.cos(b.yaw), np.sin(b.yaw)
    d = np.asarray(points, dtype=np.float64) - np.asarray(b.center, dtype=np.float64)
    local = np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], d[:, 2]], axis=1)
    return np.all(np.abs(local) <= np.asarray(b.size) / 2.0 + tol, axis=1)


def point_footprint_distance(xy: np.ndarray, b: BoxLike) -> float:
    """Distance in the floor plane from point ``xy`` to the box's footprint (0 inside)."""
    b = as_box(b)
    c, s = np.cos(b.yaw), np.sin(b.yaw)
    d = np.asarray(xy, np.float64)[:2] - np.asarray(b.center, np.float64)[:2]
    local = np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1]])
    outside = np.maximum(np.abs(local) - np.asarray(b.size, np.float64)[:2] / 2.0, 0.0)
    return float(np.hypot(*outside))
