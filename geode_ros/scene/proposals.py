"""Class-agnostic object proposals from a fused cloud (ROS-free, no learning).

A fused room cloud is mostly floor, walls and ceiling: a uniform sample of a thousand
points gives a mug less than one point. Proposals make every object visible to the
model as one token:

1. **Structure removal.** The floor and ceiling are the bands at the cloud's low and
   high height percentiles (world z up); the walls are the bands along the sides of the
   minimum-area rectangle around the cloud's footprint (so a room need not be axis
   aligned). Points in a band whose colour differs from the band's median colour are kept:
   a door or a TV is nearly flush with its wall but not of its colour.
2. **Colour-aware region growing.** The remaining voxels are joined to neighbours within
   ``neighbor_radius_m`` whose colour is within ``color_threshold``; connected components
   are the proposals. Colour edges separate a mug from the table it stands on, which
   geometric clustering (DBSCAN) merges. A multi-colour object (a plant's pot and leaves)
   becomes several fragments; the model labels each and merges same-class fragments.
3. **Boxes.** Each proposal gets an oriented box: yaw from the minimum-area rectangle of
   its footprint, height from its z range; proposals that reach down to the floor band are
   extended to the floor (the band removed their base).

Everything is vectorised (scipy cKDTree + connected components, OpenCV's minAreaRect).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


@dataclass
class ProposalConfig:
    """Settings of ``propose_objects`` (defaults suit the 5 cm fused voxels)."""

    floor_percentile: float = field(default=1.0, metadata={
        'help': 'the floor height is this percentile of the point heights'})
    ceiling_percentile: float = field(default=99.0, metadata={
        'help': 'the ceiling height is this percentile of the point heights'})
    structure_band_m: float = field(default=0.06, metadata={
        'help': 'points within this distance of the floor, ceiling or a wall are structure'})
    wall_percentile: float = field(default=1.0, metadata={
        'help': 'walls are fitted to the footprint without this share (%) of outliers per side'})
    structure_color_threshold: float = field(default=0.12, metadata={
        'help': 'a band point this far (RGB 0..1, Euclidean) from the band median is kept'})
    neighbor_radius_m: float = field(default=0.09, metadata={
        'help': 'voxels closer than this are neighbours (>= sqrt(3) x the 5 cm voxel)'})
    color_threshold: float = field(default=0.16, metadata={
        'help': 'neighbours join one proposal when their colours differ by less than this'})
    min_points: int = field(default=3, metadata={'help': 'smaller components are dropped'})
    max_proposals: int = field(default=48, metadata={
        'help': 'keep the largest proposals up to this many'})
    max_points_per_proposal: int = field(default=32, metadata={
        'help': 'points kept per proposal for the point encoder (farthest-point sampled)'})
    voxel_size_m: float = field(default=0.05, metadata={
        'help': 'fused voxel size: boxes grow by one voxel, as points are voxel centres'})


@dataclass
class Proposals:
    """Proposals of one cloud; ``M`` proposals, each with up to ``P`` sampled points."""

    boxes: np.ndarray  # [M, 7] cx, cy, cz, sx, sy, sz, yaw (fixed frame, metres, radians)
    color_mean: np.ndarray  # [M, 3] RGB 0..1
    color_std: np.ndarray  # [M, 3]
    num_points: np.ndarray  # [M] voxels in the proposal
    points: np.ndarray  # [M, P, 3] sampled member points (padded by repeating)
    point_colors: np.ndarray  # [M, P, 3] RGB 0..1
    members: list[np.ndarray]  # per proposal: indices into the input cloud
    floor_z: float = 0.0
    room_rect: tuple = ((0.0, 0.0), (0.0, 0.0), 0.0)  # cv2 minAreaRect of the footprint
    first_seen: np.ndarray | None = None  # [M] first keyframe showing it (inf: none/unknown)
    last_seen: np.ndarray | None = None  # [M] last keyframe showing it (-inf: none/unknown)

    def __len__(self) -> int:
        return len(self.boxes)

    @property
    def room_area(self) -> float:
        """Floor area (m^2) of the minimum-area rectangle around the cloud's footprint."""
        (_, _), (w, h), _ = self.room_rect
        return float(w * h)


def empty_proposals(points_per: int) -> Proposals:
    z = np.zeros
    return Proposals(z((0, 7), np.float32), z((0, 3), np.float32), z((0, 3), np.float32),
                     z(0, np.int64), z((0, points_per, 3), np.float32),
                     z((0, points_per, 3), np.float32), [])


def _rgb01(colors: np.ndarray) -> np.ndarray:
    c = np.asarray(colors)
    return c.astype(np.float32) / (255.0 if c.dtype == np.uint8 else 1.0)


def _footprint_rect(xy: np.ndarray, percentile: float) -> tuple:
    """Minimum-area rectangle of the footprint after trimming outliers along its axes."""
    rect = cv2.minAreaRect(xy.astype(np.float32))
    ang = np.deg2rad(rect[2])
    axes = np.array([[np.cos(ang), np.sin(ang)], [-np.sin(ang), np.cos(ang)]])
    uv = (xy - np.asarray(rect[0])) @ axes.T
    lo = np.percentile(uv, percentile, axis=0)
    hi = np.percentile(uv, 100 - percentile, axis=0)
    centre = np.asarray(rect[0]) + ((lo + hi) / 2) @ axes
    return (tuple(centre), tuple(hi - lo), rect[2]), axes, lo, hi, uv


def _keep_off_color(in_band: np.ndarray, rgb: np.ndarray, threshold: float) -> np.ndarray:
    """In-band points whose colour differs from the band's median colour."""
    if not in_band.any():
        return np.zeros_like(in_band)
    median = np.median(rgb[in_band], axis=0)
    return in_band & (np.linalg.norm(rgb - median, axis=1) > threshold)


def structure_mask(points: np.ndarray, rgb: np.ndarray, cfg: ProposalConfig
                   ) -> tuple[np.ndarray, float, tuple]:
    """True where a point is floor, ceiling or wall; the floor height; the room rectangle."""
    z = points[:, 2]
    floor = float(np.percentile(z, cfg.floor_percentile))
    ceiling = float(np.percentile(z, cfg.ceiling_percentile))
    band = cfg.structure_band_m
    structure = (z < floor + band) | (z > ceiling - band)
    rect, _, lo, hi, uv = _footprint_rect(points[:, :2], cfg.wall_percentile)
    for axis in (0, 1):
        for d in (uv[:, axis] - lo[axis], hi[axis] - uv[:, axis]):  # the two walls
            in_band = (d < band) & ~structure
            wall = in_band & ~_keep_off_color(in_band, rgb, cfg.structure_color_threshold)
            structure |= wall
    return structure, floor, rect


def _components(points: np.ndarray, rgb: np.ndarray, radius: float, color_threshold: float
                ) -> tuple[int, np.ndarray]:
    n = len(points)
    if n == 0:
        return 0, np.zeros(0, np.int64)
    pairs = cKDTree(points).query_pairs(radius, output_type='ndarray')
    if len(pairs):
        same = np.linalg.norm(rgb[pairs[:, 0]] - rgb[pairs[:, 1]], axis=1) < color_threshold
        pairs = pairs[same]
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)


def _oriented_box(pts: np.ndarray, floor: float, cfg: ProposalConfig) -> np.ndarray:
    """[cx, cy, cz, sx, sy, sz, yaw] of one proposal's points (grown by one voxel)."""
    (cx, cy), (w, h), ang = cv2.minAreaRect(pts[:, :2].astype(np.float32))
    v = cfg.voxel_size_m
    zlo, zhi = float(pts[:, 2].min()) - v / 2, float(pts[:, 2].max()) + v / 2
    if zlo < floor + cfg.structure_band_m + v:
        zlo = floor  # its base was removed with the floor band
    return np.array([cx, cy, (zlo + zhi) / 2, w + v, h + v, zhi - zlo, np.deg2rad(ang)],
                    dtype=np.float32)


def _fps(pts: np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` farthest-point samples of ``pts`` (repeats when fewer)."""
    n = len(pts)
    if n <= k:
        return np.resize(np.arange(n), k)
    idx = np.zeros(k, np.int64)
    dist = np.full(n, np.inf)
    idx[0] = int(np.argmax(np.linalg.norm(pts - pts.mean(0), axis=1)))
    for i in range(1, k):
        dist = np.minimum(dist, np.linalg.norm(pts - pts[idx[i - 1]], axis=1))
        idx[i] = int(np.argmax(dist))
    return idx


def visibility(proposals: Proposals, keyframes: list, depth_tol_m: float = 0.1,
               min_visible: int = 2) -> np.ndarray:
    """[K, M]: keyframe k (oldest first) shows proposal m, i.e. at least ``min_visible`` of
    its sampled points project into the image with a depth that agrees (not occluded).
    ``keyframes`` hold ``.frame`` (an RGBDFrame)."""
    m = len(proposals)
    out = np.zeros((len(keyframes), m), bool)
    if m == 0:
        return out
    pts = proposals.points.reshape(-1, 3).astype(np.float64)
    for index, kf in enumerate(keyframes):
        f = kf.frame
        T = np.asarray(f.T_world_cam, dtype=np.float64)
        cam = (pts - T[:3, 3]) @ T[:3, :3]  # world -> camera
        z = cam[:, 2]
        k = f.intrinsics
        with np.errstate(divide='ignore', invalid='ignore'):
            u = np.floor(cam[:, 0] / z * k.fx + k.cx)
            v = np.floor(cam[:, 1] / z * k.fy + k.cy)
        depth = np.asarray(f.depth, dtype=np.float32)
        h, w = depth.shape
        ok = (z > 0) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
        seen = np.zeros(len(pts), bool)
        ui, vi = u[ok].astype(np.int64), v[ok].astype(np.int64)
        seen[ok] = np.abs(depth[vi, ui] - z[ok]) < depth_tol_m
        out[index] = seen.reshape(m, -1).sum(1) >= min_visible
    return out


def first_seen(proposals: Proposals, keyframes: list, depth_tol_m: float = 0.1,
               min_visible: int = 2) -> np.ndarray:
    """[M] index of the first keyframe that shows each proposal (``visibility``); inf
    where none does."""
    vis = visibility(proposals, keyframes, depth_tol_m, min_visible)
    idx = np.arange(len(keyframes), dtype=np.float64)[:, None]
    return np.where(vis, idx, np.inf).min(0) if len(keyframes) else np.full(len(proposals),
                                                                            np.inf)


def seen_range(proposals: Proposals, keyframes: list) -> tuple[np.ndarray, np.ndarray]:
    """[M] first and last keyframe index showing each proposal (inf / -inf where none)."""
    vis = visibility(proposals, keyframes)
    if not len(keyframes):
        return np.full(len(proposals), np.inf), np.full(len(proposals), -np.inf)
    idx = np.arange(len(keyframes), dtype=np.float64)[:, None]
    return np.where(vis, idx, np.inf).min(0), np.where(vis, idx, -np.inf).max(0)


def propose_objects(points: np.ndarray, colors: np.ndarray,
                    cfg: ProposalConfig | None = None) -> Proposals:
    """Object proposals of a fused cloud (see the module docstring)."""
    cfg = cfg or ProposalConfig()
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    rgb = _rgb01(colors).reshape(-1, 3)
    ok = np.isfinite(pts).all(1)
    pts, rgb, index = pts[ok], rgb[ok], np.flatnonzero(ok)
    k = cfg.max_points_per_proposal
    if len(pts) < max(cfg.min_points, 10):
        return empty_proposals(k)
    structure, floor, rect = structure_mask(pts, rgb, cfg)
    obj = np.flatnonzero(~structure)
    n_comp, label = _components(pts[obj], rgb[obj], cfg.neighbor_radius_m, cfg.color_threshold)
    sizes = np.bincount(label, minlength=n_comp)
    order = [c for c in np.argsort(-sizes, kind='stable') if sizes[c] >= cfg.min_points]
    order = order[:cfg.max_proposals]
    if not order:
        out = empty_proposals(k)
        out.floor_z, out.room_rect = floor, rect
        return out
    by_comp = np.argsort(label, kind='stable')
    starts = np.r_[0, np.cumsum(sizes)]
    boxes, cmean, cstd, npts, sp, sc, members = [], [], [], [], [], [], []
    for c in order:
        m = obj[by_comp[starts[c]:starts[c + 1]]]
        p, col = pts[m], rgb[m]
        boxes.append(_oriented_box(p, floor, cfg))
        cmean.append(col.mean(0))
        cstd.append(col.std(0))
        npts.append(len(m))
        pick = _fps(p, k)
        sp.append(p[pick])
        sc.append(col[pick])
        members.append(index[m])
    return Proposals(np.stack(boxes), np.stack(cmean).astype(np.float32),
                     np.stack(cstd).astype(np.float32), np.asarray(npts, np.int64),
                     np.stack(sp).astype(np.float32), np.stack(sc).astype(np.float32),
                     members, floor, rect)
