"""Point-cloud segmentation parts for object proposals: local geometry, shading-robust
colour, crease tests and graph components (numpy + scipy, vectorised).

Why these parts: a real sensor's fused cloud has textured surfaces, lighting that varies
across a surface, and depth noise. Raw per-voxel colour then differs between neighbours
of one object as much as between two objects, so colour is compared after smoothing
over each point's neighbourhood and as chromaticity plus log brightness (a shadow or a
lamp's falloff changes brightness, not hue). Normals (the neighbourhood's smallest
principal axis) give the colour-free cues: horizontal support surfaces, walls.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

LUMA_EPS = 0.04  # brightness floor (RGB 0..1) that keeps the chromaticity of dark voxels stable


def radius_pairs(points: np.ndarray, radius: float) -> np.ndarray:
    """[E, 2] index pairs (i < j) closer than ``radius`` (one KD-tree query; at the fused
    cloud's 5 cm voxels a 9 cm radius is the 26-neighbourhood)."""
    if len(points) < 2:
        return np.zeros((0, 2), np.int64)
    return cKDTree(points).query_pairs(radius, output_type='ndarray').astype(np.int64)


def adjacency(pairs: np.ndarray, n: int) -> csr_matrix:
    """Sparse [n, n] adjacency of ``pairs`` plus the identity: ``A @ values`` sums each
    point's values over itself and its neighbours."""
    ones = np.ones(2 * len(pairs) + n, np.float64)
    rows = np.r_[pairs[:, 0], pairs[:, 1], np.arange(n)]
    cols = np.r_[pairs[:, 1], pairs[:, 0], np.arange(n)]
    return coo_matrix((ones, (rows, cols)), shape=(n, n)).tocsr()


def normals_from(points: np.ndarray, adj: csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Per-point unit normals (smallest principal axis of the point and its neighbours in
    ``adj``, sign free) and flatness in 0..1 (1 - 3 x the smallest eigenvalue's share; 1 = a
    perfect plane; 0 where there are too few neighbours)."""
    n = len(points)
    if n == 0:
        return np.zeros((0, 3)), np.zeros(0)
    p = points.astype(np.float64)
    p = p - p.mean(0)  # better conditioned second moments
    sums = adj @ np.concatenate([np.ones((n, 1)), p, np.einsum('ni,nj->nij', p, p).reshape(n, 9)],
                                1)
    count = sums[:, 0]
    mean = sums[:, 1:4] / count[:, None]
    cov = sums[:, 4:].reshape(n, 3, 3) / count[:, None, None] - np.einsum(
        'ni,nj->nij', mean, mean)
    w, v = np.linalg.eigh(cov.astype(np.float32))
    share = w[:, 0] / np.maximum(w.sum(1), 1e-12)
    flatness = np.where(count >= 3, np.clip(1 - 3 * share, 0, 1), 0.0)
    return v[:, :, 0], flatness


def colour_features(rgb: np.ndarray, adj: csr_matrix | None, brightness_weight: float
                    ) -> np.ndarray:
    """[N, 4] shading-robust colour: chromaticity (rgb / mean, 1 = grey) and
    ``brightness_weight`` x log brightness, of colours averaged over each point and its
    neighbours (``adjacency``) when given."""
    c = rgb.astype(np.float64)
    if adj is not None and len(c):
        c = adj @ np.concatenate([c, np.ones((len(c), 1))], 1)
        c = c[:, :3] / c[:, 3:]
    lum = c.mean(1, keepdims=True) + LUMA_EPS
    return np.concatenate([(c + LUMA_EPS) / lum, brightness_weight * np.log(lum)], 1)


def components(n: int, pairs: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of the graph on ``n`` nodes with edges ``pairs``."""
    if n == 0:
        return 0, np.zeros(0, np.int64)
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])),
                       shape=(n, n))
    return connected_components(graph, directed=False)


def segments_of(labels: np.ndarray, count: int, min_points: int) -> list[np.ndarray]:
    """Index arrays of the components with at least ``min_points`` points, largest first."""
    sizes = np.bincount(labels, minlength=count)
    order = [c for c in np.argsort(-sizes, kind='stable') if sizes[c] >= min_points]
    by = np.argsort(labels, kind='stable')
    starts = np.r_[0, np.cumsum(sizes)]
    return [by[starts[c]:starts[c + 1]] for c in order]


def dedupe(segments: list[np.ndarray], n: int, jaccard: float) -> list[np.ndarray]:
    """Drop segments whose member set overlaps an earlier (kept) one by Jaccard >= ``jaccard``."""
    if len(segments) < 2:
        return segments
    rows = np.concatenate([np.full(len(s), i) for i, s in enumerate(segments)])
    inc = coo_matrix((np.ones(len(rows), np.float32), (rows, np.concatenate(segments))),
                     shape=(len(segments), n)).tocsr()
    inter = (inc @ inc.T).toarray()
    size = np.diag(inter)
    jac = inter / np.maximum(size[:, None] + size[None, :] - inter, 1)
    keep = np.zeros(len(segments), bool)
    for i in range(len(segments)):
        keep[i] = not (jac[i, keep] >= jaccard).any()
    return [s for s, k in zip(segments, keep) if k]
