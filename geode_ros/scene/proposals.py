"""Class-agnostic object proposals from a fused cloud (ROS-free, no learning).

A fused room cloud is mostly floor, walls and ceiling: a uniform sample of a thousand
points gives a mug less than one point. Proposals make every object visible to the
model as one token. They must not depend on objects being flat-coloured: a real camera
sees texture, uneven light and depth noise (``docs/sensing.md``), and a depth-only
sensor sees no colour at all.

1. **Clean-up and local geometry.** Voxels with fewer than ``min_neighbors`` neighbours
   (speckle, flying pixels) are dropped; every voxel gets a normal and a colour averaged
   over its neighbours within ``neighbor_radius_m``, compared as chromaticity plus log
   brightness (``scene/segmentation.py``), so texture and shading do not read as edges.
2. **Structure removal.** Floor and ceiling heights are the dominant horizontal planes at
   the cloud's low / high end; walls are the sides of the minimum-area rectangle around the
   footprint, each moved onto the median of its own vertical points. Points within
   ``structure_band_m`` of a plane are structure, and so are points up to
   ``structure_normal_band_m`` away whose normal is the plane's (noisy depth spreads a wall
   over centimetres). Points near a wall whose colour differs from the wall's are kept: a
   door or a TV is nearly flush with its wall but not of its colour.
3. **Several segmentations, all kept.** Neighbours within ``neighbor_radius_m`` are
   linked except across a *support edge* (a horizontal surface meeting a point more than
   ``support_step_m`` above it: a mug on a table, a monitor on a desk). On that graph,
   ``hypotheses`` names the partitions whose components become proposals: ``colour``
   (also cut where smoothed colours differ by ``color_threshold``: separates touching
   objects of different colour), ``shape`` (no colour: keeps multi-colour objects whole,
   works without colour) and ``cluster`` (no cuts at all: whole objects with what they
   carry). Near-identical segments are kept once; the model classifies every proposal (or
   calls it background) and merges same-class fragments.
4. **Boxes.** Each proposal gets an oriented box: yaw from the minimum-area rectangle of
   its footprint, height from its z range; proposals that reach down to the floor band are
   extended to the floor (the band removed their base).

Everything is vectorised (scipy cKDTree + connected components, OpenCV's minAreaRect).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from geode_ros.scene import segmentation as seg

HYPOTHESES = ('colour', 'shape', 'lifted', 'cluster')
SEEN_PERCENTILE = 10.0  # of a proposal's point stamps (first; 100 - it: last), no keyframes
MAX_BAND_M = 0.25  # structure bands never grow beyond this (a sofa's seat is 0.44 m up)


@dataclass
class ProposalConfig:
    """Settings of ``propose_objects`` (defaults suit the 5 cm fused voxels)."""

    floor_percentile: float = field(default=1.0, metadata={
        'help': 'the floor is searched from this percentile of the point heights'})
    ceiling_percentile: float = field(default=99.0, metadata={
        'help': 'the ceiling is searched from this percentile of the point heights'})
    structure_band_m: float = field(default=0.06, metadata={
        'help': 'points within this distance of the floor, ceiling or a wall are structure'})
    structure_normal_band_m: float = field(default=0.15, metadata={
        'help': 'points up to this far from a structure plane whose normal is the '
                "plane's are structure too (noisy depth spreads walls)"})
    wall_percentile: float = field(default=1.0, metadata={
        'help': 'walls are fitted to the footprint without this share (percent) of outliers '
                'per side'})
    structure_color_threshold: float = field(default=0.25, metadata={
        'help': 'a point near a wall whose smoothed colour is this far (chromaticity + '
                'log brightness) from the wall median is kept'})
    neighbor_radius_m: float = field(default=0.09, metadata={
        'help': 'voxels closer than this are neighbours (>= sqrt(3) x the 5 cm voxel)'})
    min_neighbors: int = field(default=2, metadata={
        'help': 'voxels with fewer neighbours are noise (speckle, flying pixels) and dropped'})
    link_neighbors: int = field(default=0, metadata={
        'help': 'two voxels link only when one of them has at least this many neighbours: '
                'thin chains of flying pixels do not bridge objects'})
    max_extent_m: float = field(default=3.5, metadata={
        'help': 'segments whose footprint diagonal exceeds this are several objects bridged '
                'by noise, not a proposal'})
    brightness_weight: float = field(default=0.3, metadata={
        'help': 'weight of log brightness beside chromaticity in colour distances (light '
                'and shadow change brightness, not hue)'})
    color_threshold: float = field(default=0.16, metadata={
        'help': "neighbours join one 'colour' proposal when their colours differ by less"})
    support_step_m: float = field(default=0.035, metadata={
        'help': 'a horizontal surface is not linked to neighbours more than this above it '
                '(objects standing on a support)'})
    hypotheses: tuple[str, ...] = field(default=('colour', 'lifted'), metadata={
        'help': f'segmentations whose components become proposals: {", ".join(HYPOTHESES)}'})
    dedupe_jaccard: float = field(default=0.8, metadata={
        'help': 'a segment sharing this share of points with a kept one is a duplicate'})
    min_points: int = field(default=3, metadata={'help': 'smaller components are dropped'})
    max_proposals: int = field(default=96, metadata={
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


def _plane_offset(d: np.ndarray, on_plane: np.ndarray, cfg: ProposalConfig
                  ) -> tuple[float, float, float]:
    """(offset, near band, wide band) of a structure plane from the signed distances ``d``
    (positive into the room) of the points ``on_plane`` (its normal) near it: the plane
    moves onto their median, and both bands grow to 3 robust standard deviations of their
    spread (a noisy sensor makes a wall centimetres thick; an exact one keeps the bands)."""
    near = on_plane & (np.abs(d) < MAX_BAND_M)
    if near.sum() < 10:
        return 0.0, cfg.structure_band_m, max(cfg.structure_normal_band_m, cfg.structure_band_m)
    offset = float(np.median(d[near]))
    spread = 1.4826 * float(np.median(np.abs(d[near] - offset)))
    band = float(np.clip(3 * spread, cfg.structure_band_m, MAX_BAND_M))
    return offset, band, max(cfg.structure_normal_band_m, band)


def structure_mask(points: np.ndarray, feats: np.ndarray, normals: np.ndarray,
                   cfg: ProposalConfig) -> tuple[np.ndarray, float, tuple]:
    """True where a point is floor, ceiling or wall; the floor height; the room rectangle.
    ``feats``: shading-robust colours (``segmentation.colour_features``)."""
    z = points[:, 2]
    horizontal = np.abs(normals[:, 2]) > 0.85
    structure = np.zeros(len(points), bool)
    floor = 0.0
    for pct, sign in ((cfg.floor_percentile, 1), (cfg.ceiling_percentile, -1)):
        d = (z - float(np.percentile(z, pct))) * sign
        offset, band, wide = _plane_offset(d, horizontal, cfg)
        d = d - offset
        structure |= (d < band) | (horizontal & (d < wide))
        if sign > 0:
            floor = float(np.percentile(z, pct)) + offset
    rect, axes, lo, hi, uv = _footprint_rect(points[:, :2], cfg.wall_percentile)
    for axis in (0, 1):
        wall_normal = np.abs(normals[:, :2] @ axes[axis]) > 0.85
        for sign, edge in ((1, lo[axis]), (-1, hi[axis])):  # the two walls along this axis
            d = (uv[:, axis] - edge) * sign
            offset, band, wide = _plane_offset(d, wall_normal, cfg)
            d = d - offset
            candidates = ((d < band) | ((d < wide) & wall_normal)) & ~structure
            if not candidates.any():
                continue
            median = np.median(feats[candidates], axis=0)
            off = np.linalg.norm(feats - median, axis=1) > cfg.structure_color_threshold
            structure |= candidates & ~off
    return structure, floor, rect


def _support_surface(points: np.ndarray, normals: np.ndarray, pairs: np.ndarray,
                     cfg: ProposalConfig) -> np.ndarray:
    """[N] True on horizontal support surfaces (table, cabinet and seat tops): a flat point
    most of whose neighbours (``pairs``) are flat at its height."""
    n = len(points)
    flat = np.abs(normals[:, 2]) > 0.9
    i, j = pairs[:, 0], pairs[:, 1]
    level = np.abs(points[i, 2] - points[j, 2]) < cfg.support_step_m
    both = np.concatenate([i, j])
    agree = np.bincount(both, np.tile(level & flat[i] & flat[j], 2).astype(float), n)
    total = np.bincount(both, minlength=n)
    return flat & (total >= 3) & (agree >= 0.75 * total)


def _support_edges(points: np.ndarray, normals: np.ndarray, pairs: np.ndarray,
                   step: float) -> np.ndarray:
    """[E] True where a horizontal surface point meets a neighbour more than ``step``
    above it (an object standing on a support is not linked to the support)."""
    if len(pairs) == 0:
        return np.zeros(0, bool)
    i, j = pairs[:, 0], pairs[:, 1]
    dz = points[j, 2] - points[i, 2]
    flat = np.abs(normals[:, 2]) > 0.9
    return (flat[i] & (dz > step)) | (flat[j] & (-dz > step))


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


def first_seen(proposals: Proposals, keyframes: list, point_stamps: np.ndarray | None = None,
               depth_tol_m: float = 0.1, min_visible: int = 2) -> np.ndarray:
    """[M] when each proposal was first seen (``seen_range``); inf where never."""
    if not keyframes:
        return seen_range(proposals, keyframes, point_stamps)[0]
    vis = visibility(proposals, keyframes, depth_tol_m, min_visible)
    idx = np.arange(len(keyframes), dtype=np.float64)[:, None]
    return np.where(vis, idx, np.inf).min(0)


def seen_range(proposals: Proposals, keyframes: list, point_stamps: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """[M] when each proposal was first and last seen (inf / -inf where never).

    With keyframes: the index of the first and last keyframe that shows it
    (``visibility``). Without keyframes (a scene seen only as point clouds) from
    ``point_stamps`` ([N, 2] first and last stamp of every cloud point,
    ``FusedCloud.stamps``): the 10th percentile of its members' first stamps and the 90th
    of their last ones, so a few noise voxels do not decide; these are stamps, not indices.
    """
    m = len(proposals)
    first, last = np.full(m, np.inf), np.full(m, -np.inf)
    if keyframes:
        vis = visibility(proposals, keyframes)
        idx = np.arange(len(keyframes), dtype=np.float64)[:, None]
        return np.where(vis, idx, np.inf).min(0), np.where(vis, idx, -np.inf).max(0)
    if point_stamps is None or not len(point_stamps):
        return first, last
    stamps = np.asarray(point_stamps, np.float64).reshape(len(point_stamps), -1)
    for i, members in enumerate(proposals.members):
        ok = members[members < len(stamps)]
        if len(ok):
            first[i] = float(np.percentile(stamps[ok, 0], SEEN_PERCENTILE))
            last[i] = float(np.percentile(stamps[ok, -1], 100 - SEEN_PERCENTILE))
    return first, last


def _segments(pts: np.ndarray, feats: np.ndarray, normals: np.ndarray, surface: np.ndarray,
              degree: np.ndarray, pairs: np.ndarray, cfg: ProposalConfig) -> list[np.ndarray]:
    """Member index arrays (into ``pts``, the non-structure points, with their ``pairs``)
    of every hypothesis' components, largest first, deduplicated."""
    unknown = set(cfg.hypotheses) - set(HYPOTHESES)
    if unknown:
        raise ValueError(f'unknown proposal hypotheses {sorted(unknown)}; known: {HYPOTHESES}')
    linked = ~_support_edges(pts, normals, pairs, cfg.support_step_m)
    linked &= np.maximum(degree[pairs[:, 0]], degree[pairs[:, 1]]) >= cfg.link_neighbors
    same = np.linalg.norm(feats[pairs[:, 0]] - feats[pairs[:, 1]], axis=1) < cfg.color_threshold
    off_surface = ~surface[pairs[:, 0]] & ~surface[pairs[:, 1]]
    edges = {'colour': pairs[linked & same], 'shape': pairs[linked],
             'lifted': pairs[linked & off_surface], 'cluster': pairs}
    out: list[np.ndarray] = []
    for name in cfg.hypotheses:
        n_comp, label = seg.components(len(pts), edges[name])
        for members in seg.segments_of(label, n_comp, cfg.min_points):
            if name == 'lifted':
                members = members[~surface[members]]  # the support's top is not the object
                z = pts[members, 2]
                if len(members) < cfg.min_points or np.ptp(z) < cfg.support_step_m:
                    continue  # a flat remnant of the support, not an object on it
            xy = pts[members, :2]
            if np.linalg.norm(xy.max(0) - xy.min(0)) <= cfg.max_extent_m:
                out.append(members)
    out.sort(key=len, reverse=True)
    return seg.dedupe(out, len(pts), cfg.dedupe_jaccard)


def propose_objects(points: np.ndarray, colors: np.ndarray | None,
                    cfg: ProposalConfig | None = None) -> Proposals:
    """Object proposals of a fused cloud (see the module docstring); ``colors`` None (or all
    one grey) for a depth-only cloud."""
    cfg = cfg or ProposalConfig()
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    rgb = (np.full(pts.shape, 0.5, np.float32) if colors is None
           else _rgb01(colors).reshape(-1, 3))
    ok = np.isfinite(pts).all(1)
    pts, rgb, index = pts[ok], rgb[ok], np.flatnonzero(ok)
    k = cfg.max_points_per_proposal
    if len(pts) < max(cfg.min_points, 10):
        return empty_proposals(k)
    pairs = seg.radius_pairs(pts, cfg.neighbor_radius_m)
    degree = np.bincount(pairs.ravel(), minlength=len(pts))
    adj = seg.adjacency(pairs, len(pts))
    normals, _ = seg.normals_from(pts, adj)
    feats = seg.colour_features(rgb, adj, cfg.brightness_weight)
    structure, floor, rect = structure_mask(pts, feats, normals, cfg)
    obj = np.flatnonzero(~structure & (degree >= cfg.min_neighbors))
    surface = _support_surface(pts, normals, pairs, cfg)[obj]
    local = np.full(len(pts), -1)
    local[obj] = np.arange(len(obj))
    pairs = local[pairs]
    pairs = pairs[(pairs >= 0).all(1)]
    segments = _segments(pts[obj], feats[obj], normals[obj], surface, degree[obj], pairs,
                         cfg)[:cfg.max_proposals]
    if not segments:
        out = empty_proposals(k)
        out.floor_z, out.room_rect = floor, rect
        return out
    boxes, cmean, cstd, npts, sp, sc, members = [], [], [], [], [], [], []
    for members_local in segments:
        m = obj[members_local]
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
