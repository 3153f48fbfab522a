"""ScanNet-layout scans -> our dataset layout (frames folders + scene.json + qa.jsonl).

A scan folder ``sceneXXXX_XX/`` as ScanNet ships it, with its RGB-D stream exported by
ScanNet's SensReader (``reader.py --export_color_images --export_depth_images
--export_poses --export_intrinsics``)::

    sceneXXXX_XX.txt                          axisAlignment = 16 numbers (row-major 4x4)
    sceneXXXX_XX_vh_clean_2.ply               mesh: vertices with colours
    sceneXXXX_XX_vh_clean_2.0.010000.segs.json   {"segIndices": [segment of each vertex]}
    sceneXXXX_XX.aggregation.json             {"segGroups": [{"objectId", "label", "segments"}]}
    color/N.jpg  depth/N.png (uint16 mm)  pose/N.txt (4x4 camera to world)
    intrinsic/intrinsic_color.txt  intrinsic_depth.txt  extrinsic_color.txt  extrinsic_depth.txt

(the exported folders may also sit under ``exported/`` or ``frames/``). Each scan becomes
``OUT/scenes/sceneXXXX_XX/``: a frames folder at the depth camera's resolution with the
colour image registered onto every depth pixel (back-projected with the depth
intrinsics, moved by the two extrinsics, projected with the colour intrinsics), and a
``scene.json`` with the room size and one box per annotated object whose label maps into
the vocabulary. Poses and the mesh are turned by the scan's axis alignment and shifted so
that the floor is z = 0 and the room starts at x = y = 0, as in ``geode-synth`` scenes.

Labels: the aggregation's raw category is first mapped through ScanNet's
``scannetv2-labels.combined.tsv`` (raw_category -> nyu40class) when given, then onto the
vocabulary: ``synthetic`` (the 17 classes of the shipped model, ``SYNTHETIC_MAP``),
``nyu40`` (NYU40 object classes; walls, floors and other* dropped) or ``raw``.
A model trained on the result takes its class list from these labels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.scene.types import Box3D, CameraIntrinsics, RGBDFrame

VOCABULARIES = ('synthetic', 'nyu40', 'raw')
# nyu40 classes (or raw categories) -> the shipped model's synthetic classes
SYNTHETIC_MAP = {
    'bed': 'bed', 'books': 'book', 'book': 'book', 'bottle': 'bottle', 'box': 'box',
    'cabinet': 'cabinet', 'kitchen cabinet': 'cabinet', 'kitchen cabinets': 'cabinet',
    'dresser': 'cabinet', 'night stand': 'cabinet', 'nightstand': 'cabinet',
    'chair': 'chair', 'office chair': 'chair', 'armchair': 'chair', 'door': 'door',
    'lamp': 'lamp', 'monitor': 'monitor', 'computer monitor': 'monitor', 'mug': 'mug',
    'cup': 'mug', 'plant': 'plant', 'potted plant': 'plant', 'refridgerator': 'refrigerator',
    'refrigerator': 'refrigerator', 'mini fridge': 'refrigerator', 'bookshelf': 'shelf',
    'shelves': 'shelf', 'shelf': 'shelf', 'sofa': 'sofa', 'couch': 'sofa', 'table': 'table',
    'desk': 'table', 'coffee table': 'table', 'trash can': 'trash can',
    'garbage bin': 'trash can', 'recycling bin': 'trash can', 'wastebin': 'trash can',
    'television': 'tv', 'tv': 'tv',
}
NOT_OBJECTS = {'wall', 'floor', 'ceiling', 'otherstructure', 'otherfurniture', 'otherprop',
               'window', 'floor mat', 'person', 'unannotated', ''}
VISIBLE_DEPTH_TOL_M = 0.1  # a projected mesh vertex is seen when the depth agrees this well
VISIBLE_MIN = 3  # an object counts as seen in a frame from this many of its vertices
VERTEX_SAMPLE = 256  # vertices per object used for visibility


@dataclass
class PrepareConfig:
    """How scans are converted."""

    vocabulary: str = 'synthetic'
    labels_tsv: Path | None = None
    frame_stride: int = 10
    max_frames: int = 0  # 0 = all (after the stride)
    min_vertices: int = 30
    oriented_boxes: bool = True


def read_matrix(path: Path) -> np.ndarray:
    """A 4x4 matrix from a whitespace-separated text file."""
    m = np.loadtxt(path, dtype=np.float64).reshape(-1)
    if m.size != 16:
        raise GeodeError(f'{path}: expected a 4x4 matrix, got {m.size} numbers')
    return m.reshape(4, 4)


def axis_alignment(meta: Path) -> np.ndarray:
    """The ``axisAlignment`` of a scan's ``.txt`` (identity when absent)."""
    if meta.is_file():
        for line in meta.read_text().splitlines():
            if line.strip().startswith('axisAlignment'):
                vals = [float(v) for v in line.split('=', 1)[1].split()]
                if len(vals) == 16:
                    return np.asarray(vals).reshape(4, 4)
    return np.eye(4)


def read_label_tsv(path: Path) -> dict[str, str]:
    """raw_category -> nyu40class from ScanNet's ``scannetv2-labels.combined.tsv``."""
    lines = Path(path).read_text().splitlines()
    head = lines[0].split('\t')
    if 'raw_category' not in head or 'nyu40class' not in head:
        raise GeodeError(f'{path}: needs raw_category and nyu40class columns, has {head}')
    i, j = head.index('raw_category'), head.index('nyu40class')
    out = {}
    for line in lines[1:]:
        cols = line.split('\t')
        if len(cols) > max(i, j):
            out[cols[i].strip().lower()] = cols[j].strip().lower()
    return out


def vocabulary_label(raw: str, cfg: PrepareConfig, tsv: dict[str, str]) -> str | None:
    """The label of a raw ScanNet category in the chosen vocabulary (None: not an object)."""
    raw = raw.strip().lower()
    nyu = tsv.get(raw, raw)
    if cfg.vocabulary == 'raw':
        return None if nyu in NOT_OBJECTS or raw in NOT_OBJECTS else raw
    if cfg.vocabulary == 'nyu40':
        return None if nyu in NOT_OBJECTS else nyu
    return SYNTHETIC_MAP.get(raw) or SYNTHETIC_MAP.get(nyu)


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if not found:
        raise GeodeError(f'{folder}: no file matching {pattern!r} (a ScanNet scan folder has '
                         '*_vh_clean_2.ply, *.aggregation.json and *_vh_clean_2.*segs.json)')
    return found[0]


def _exported(scan: Path) -> Path:
    for sub in ('', 'exported', 'frames'):
        if (scan / sub / 'depth').is_dir() and (scan / sub / 'pose').is_dir():
            return scan / sub
    raise GeodeError(f'{scan}: no exported frames (color/, depth/, pose/, intrinsic/); export '
                     'them with ScanNet SensReader: reader.py --export_color_images '
                     '--export_depth_images --export_poses --export_intrinsics')


def scan_objects(scan: Path) -> tuple[np.ndarray, np.ndarray, list[tuple[str, np.ndarray]]]:
    """Mesh vertices [N, 3], colours [N, 3] uint8 and (raw label, vertex indices) per
    annotated object."""
    import open3d as o3d

    mesh = o3d.io.read_point_cloud(str(_one(scan, '*_vh_clean_2.ply')))
    xyz = np.asarray(mesh.points, np.float64)
    rgb = (np.asarray(mesh.colors) * 255 + 0.5).clip(0, 255).astype(np.uint8)
    if len(xyz) == 0:
        raise GeodeError(f'{scan}: the mesh has no vertices')
    segs = np.asarray(json.loads(_one(scan, '*_vh_clean_2*segs.json').read_text())['segIndices'])
    if len(segs) != len(xyz):
        raise GeodeError(f'{scan}: {len(segs)} segment indices for {len(xyz)} vertices')
    groups = json.loads(_one(scan, '*.aggregation.json').read_text())['segGroups']
    objects = [(str(g.get('label', '')), np.flatnonzero(np.isin(segs, g['segments'])))
               for g in groups]
    return xyz, rgb, objects


def _object_box(label: str, pts: np.ndarray, oriented: bool) -> Box3D:
    lo, hi = pts.min(0), pts.max(0)
    if not oriented:
        return Box3D(label, (lo + hi) / 2, hi - lo, 0.0)
    (cx, cy), (w, h), ang = cv2.minAreaRect(pts[:, :2].astype(np.float32))
    return Box3D(label, np.array([cx, cy, (lo[2] + hi[2]) / 2]),
                 np.array([w, h, hi[2] - lo[2]]), float(np.deg2rad(ang)))


def _frame_ids(folder: Path) -> list[int]:
    ids = [int(p.stem) for p in folder.glob('*.txt') if re.fullmatch(r'\d+', p.stem)]
    return sorted(ids)


def _registered_colour(depth: np.ndarray, color: np.ndarray, K_d: np.ndarray, K_c: np.ndarray,
                       T_c_d: np.ndarray) -> np.ndarray:
    """The colour of every depth pixel: back-project, move into the colour camera, project."""
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    z = depth.astype(np.float64)
    p = np.stack([(u - K_d[0, 2]) / K_d[0, 0] * z, (v - K_d[1, 2]) / K_d[1, 1] * z, z], -1)
    q = p @ T_c_d[:3, :3].T + T_c_d[:3, 3]
    with np.errstate(divide='ignore', invalid='ignore'):
        uc = q[..., 0] / q[..., 2] * K_c[0, 0] + K_c[0, 2]
        vc = q[..., 1] / q[..., 2] * K_c[1, 1] + K_c[1, 2]
    ok = (z > 0) & (q[..., 2] > 0)
    uc, vc = np.where(ok, uc, -1).astype(np.float32), np.where(ok, vc, -1).astype(np.float32)
    out = cv2.remap(color, uc, vc, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return np.where(ok[..., None], out, 0).astype(np.uint8)


def scan_frames(scan: Path, cfg: PrepareConfig, align: np.ndarray
                ) -> tuple[CameraIntrinsics, Iterator[RGBDFrame]]:
    """Depth intrinsics and the stream of registered frames (aligned poses, stamps at 30 Hz),
    every ``frame_stride``-th frame with a valid pose."""
    ex = _exported(scan)
    K_d = read_matrix(ex / 'intrinsic' / 'intrinsic_depth.txt')
    K_c = read_matrix(ex / 'intrinsic' / 'intrinsic_color.txt')
    E_d, E_c = (read_matrix(ex / 'intrinsic' / f'extrinsic_{k}.txt')
                if (ex / 'intrinsic' / f'extrinsic_{k}.txt').is_file() else np.eye(4)
                for k in ('depth', 'color'))
    T_c_d = np.linalg.inv(E_c) @ E_d
    ids = _frame_ids(ex / 'pose')[::max(1, cfg.frame_stride)]
    if not ids:
        raise GeodeError(f'{ex / "pose"}: no N.txt pose files')
    first = cv2.imread(str(ex / 'depth' / f'{ids[0]}.png'), cv2.IMREAD_UNCHANGED)
    if first is None:
        raise GeodeError(f'{ex / "depth"}: cannot read {ids[0]}.png')
    h, w = first.shape[:2]
    K = CameraIntrinsics(K_d[0, 0], K_d[1, 1], K_d[0, 2], K_d[1, 2], w, h)

    def frames() -> Iterator[RGBDFrame]:
        n = 0
        for i in ids:
            pose = read_matrix(ex / 'pose' / f'{i}.txt')
            if not np.isfinite(pose).all():
                continue  # ScanNet marks lost tracking with -inf poses
            depth = cv2.imread(str(ex / 'depth' / f'{i}.png'), cv2.IMREAD_UNCHANGED)
            bgr = cv2.imread(str(ex / 'color' / f'{i}.jpg'))
            if depth is None or bgr is None:
                raise GeodeError(f'{ex}: frame {i} has no readable depth/{i}.png or color/{i}.jpg')
            z = depth.astype(np.float32) * 0.001
            rgb = _registered_colour(z, bgr[..., ::-1].copy(), K_d, K_c, T_c_d)
            yield RGBDFrame(rgb, z, K, align @ pose, stamp=i / 30.0)
            n += 1
            if cfg.max_frames and n >= cfg.max_frames:
                return
    return K, frames()


def _visible(vertices: np.ndarray, frame: RGBDFrame) -> int:
    """How many of ``vertices`` (world) frame ``frame`` sees (depth agrees)."""
    T = frame.T_world_cam
    cam = (vertices - T[:3, 3]) @ T[:3, :3]
    k = frame.intrinsics
    with np.errstate(divide='ignore', invalid='ignore'):
        u = np.floor(cam[:, 0] / cam[:, 2] * k.fx + k.cx)
        v = np.floor(cam[:, 1] / cam[:, 2] * k.fy + k.cy)
    ok = (cam[:, 2] > 0) & (u >= 0) & (u < k.width) & (v >= 0) & (v < k.height)
    d = frame.depth[v[ok].astype(int), u[ok].astype(int)]
    return int(((d > 0) & (np.abs(d - cam[ok, 2]) < VISIBLE_DEPTH_TOL_M)).sum())


def convert_scan(scan: Path, out: Path, cfg: PrepareConfig, scene: str,
                 tsv: dict[str, str] | None = None) -> dict:
    """Convert one scan folder into ``out`` (frames folder + scene.json); returns the meta."""
    from geode_ros.data.frames import write_frames_folder

    if cfg.vocabulary not in VOCABULARIES:
        raise GeodeError(f'vocabulary must be one of {VOCABULARIES}, got {cfg.vocabulary!r}')
    xyz, _, groups = scan_objects(scan)
    align = axis_alignment(scan / f'{scan.name}.txt')
    xyz = xyz @ align[:3, :3].T + align[:3, 3]
    lo = np.percentile(xyz, 1, axis=0)
    hi = np.percentile(xyz, 99, axis=0)
    shift = np.eye(4)
    shift[:3, 3] = -lo  # the floor at z = 0, the room from x = y = 0
    align = shift @ align
    xyz = xyz - lo
    objects, samples = [], []
    rng = np.random.default_rng(0)
    for raw, idx in groups:
        label = vocabulary_label(raw, cfg, tsv or {})
        if label is None or len(idx) < cfg.min_vertices:
            continue
        pts = xyz[idx]
        objects.append({'id': len(objects), 'label': label, 'raw_label': raw, 'support': None,
                        'box': _object_box(label, pts, cfg.oriented_boxes).to_dict()})
        samples.append(pts[rng.choice(len(pts), min(len(pts), VERTEX_SAMPLE), replace=False)])
    K, stream = scan_frames(scan, cfg, align)
    visibility, first_seen = [], {}

    def watched() -> Iterator[RGBDFrame]:
        for n, frame in enumerate(stream):
            seen = {o['id']: c for o, s in zip(objects, samples)
                    if (c := _visible(s, frame)) >= VISIBLE_MIN}
            visibility.append({'frame': n, 'pixels': {str(k): c for k, c in seen.items()}})
            for k in seen:
                first_seen.setdefault(k, n)
            yield frame

    write_frames_folder(watched(), out, depth_scale=0.001, fps=30.0 / max(1, cfg.frame_stride))
    for o in objects:
        o['first_seen'] = first_seen.get(o['id'])
    W, L, H = (float(v) for v in hi - lo)
    meta = {'scene': scene, 'source': str(scan), 'room': {'size': [W, L, H], 'area': W * L},
            'objects': objects, 'num_frames': len(visibility), 'visibility': visibility,
            'vocabulary': cfg.vocabulary}
    (out / 'scene.json').write_text(json.dumps(meta) + '\n')
    return meta
