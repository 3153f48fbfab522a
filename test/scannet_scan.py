"""A tiny scan in the ScanNet layout, written as real files (PLY, JSON, TSV, JPG, PNG, TXT).

A procedural room (``scene_layout``) is triangulated into a mesh with one segment per
part, annotated with ScanNet-style raw categories, stored in the scan's raw coordinates
(the inverse of its ``axisAlignment``), and its RGB-D stream is rendered as ScanNet's
SensReader exports it: 2x larger colour images with their own intrinsics, uint16
millimetre depth, camera-to-world poses (one lost: -inf).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import open3d as o3d

from geode_ros.data.render import build_room_mesh, render, trajectory
from geode_ros.data.scene_layout import generate_layout
from geode_ros.scene.types import CameraIntrinsics

RAW = {'table': 'desk', 'chair': 'office chair', 'cabinet': 'kitchen cabinets',
       'sofa': 'couch', 'trash can': 'trash can', 'door': 'door', 'lamp': 'lamp',
       'shelf': 'bookshelf', 'bed': 'bed', 'plant': 'plant', 'box': 'box', 'tv': 'tv',
       'refrigerator': 'refridgerator', 'mug': 'cup', 'bottle': 'bottle', 'monitor': 'monitor',
       'book': 'books'}
TSV = [('office chair', 'chair'), ('desk', 'desk'), ('kitchen cabinets', 'cabinet'),
       ('couch', 'sofa'), ('trash can', 'otherprop'), ('bookshelf', 'bookshelf'),
       ('refridgerator', 'refridgerator'), ('cup', 'otherprop'), ('books', 'books'),
       ('wall', 'wall'), ('floor', 'floor'), ('ceiling', 'ceiling')]
YAW = np.deg2rad(30.0)


def _alignment() -> np.ndarray:
    A = np.eye(4)
    A[:3, :3] = [[np.cos(YAW), -np.sin(YAW), 0], [np.sin(YAW), np.cos(YAW), 0], [0, 0, 1]]
    A[:3, 3] = [-1.0, 2.0, 0.5]
    return A


def _part_mesh(kind: str, center, size, yaw: float, position) -> o3d.geometry.TriangleMesh:
    if kind == 'box':
        m = o3d.geometry.TriangleMesh.create_box(1.0, 1.0, 1.0)
        m.translate((-0.5, -0.5, -0.5))
        m = m.subdivide_midpoint(3)
    elif kind == 'cylinder':
        m = o3d.geometry.TriangleMesh.create_cylinder(0.5, 1.0, 16, 4)
    else:
        m = o3d.geometry.TriangleMesh.create_sphere(0.5, 10)
    v = np.asarray(m.vertices) * np.asarray(size) + np.asarray(center)
    c, s = np.cos(yaw), np.sin(yaw)
    v = v @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T + np.asarray(position)
    m.vertices = o3d.utility.Vector3dVector(v)
    return m


def write_scan(root: Path, seed: int = 5, frames: int = 10, name: str = 'scene0042_00'
               ) -> tuple[Path, object]:
    """Write the scan folder ``root/name``; returns it and the room it shows (world frame)."""
    scan = root / name
    ex = scan / 'exported'
    for sub in ('color', 'depth', 'pose', 'intrinsic'):
        (ex / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    room = generate_layout(rng)
    A = _alignment()
    to_raw = np.linalg.inv(A)
    W, L, H = room.size
    parts = [('floor', 'box', (W / 2, L / 2, -0.05), (W, L, 0.1), 0.0, (0, 0, 0), -1),
             ('ceiling', 'box', (W / 2, L / 2, H + 0.05), (W, L, 0.1), 0.0, (0, 0, 0), -1)]
    parts += [('wall', 'box', c, s, 0.0, (0, 0, 0), -1) for c, s in (
        ((-0.05, L / 2, H / 2), (0.1, L, H)), ((W + 0.05, L / 2, H / 2), (0.1, L, H)),
        ((W / 2, -0.05, H / 2), (W, 0.1, H)), ((W / 2, L + 0.05, H / 2), (W, 0.1, H)))]
    for o in room.objects:
        parts += [(RAW[o.label], p.kind, p.center, p.size, o.yaw, o.position, o.id)
                  for p in o.parts]
    mesh, segs, groups = o3d.geometry.TriangleMesh(), [], {}
    for seg_id, (raw, kind, center, size, yaw, pos, oid) in enumerate(parts):
        m = _part_mesh(kind, center, size, yaw, pos)
        m.vertex_colors = o3d.utility.Vector3dVector(np.tile([0.5, 0.4, 0.3],
                                                             (len(m.vertices), 1)))
        mesh += m
        segs += [seg_id] * len(m.vertices)
        key = oid if oid >= 0 else f'{raw}{seg_id}'
        groups.setdefault(key, {'label': raw, 'segments': []})['segments'].append(seg_id)
    v = np.asarray(mesh.vertices)
    mesh.vertices = o3d.utility.Vector3dVector(v @ to_raw[:3, :3].T + to_raw[:3, 3])
    o3d.io.write_triangle_mesh(str(scan / f'{name}_vh_clean_2.ply'), mesh)
    (scan / f'{name}_vh_clean_2.0.010000.segs.json').write_text(json.dumps(
        {'sceneId': name, 'segIndices': segs}))
    (scan / f'{name}.aggregation.json').write_text(json.dumps(
        {'sceneId': name, 'segGroups': [{'id': i, 'objectId': i, **g}
                                        for i, g in enumerate(groups.values())]}))
    (scan / f'{name}.txt').write_text('axisAlignment = ' + ' '.join(
        f'{x:.9f}' for x in A.reshape(-1)) + '\ncolorHeight = 120\n')
    (root / 'scannetv2-labels.combined.tsv').write_text(
        'id\traw_category\tcategory\tcount\tnyu40id\tnyuClass\tnyu40class\n' + ''.join(
            f'{i}\t{r}\t{r}\t1\t1\t{n}\t{n}\n' for i, (r, n) in enumerate(TSV)))
    K_d = CameraIntrinsics(60.0, 60.0, 40.0, 30.0, 80, 60)
    K_c = CameraIntrinsics(120.0, 120.0, 80.0, 60.0, 160, 120)
    for k, K in (('depth', K_d), ('color', K_c)):
        M = np.eye(4)
        M[0, 0], M[1, 1], M[0, 2], M[1, 2] = K.fx, K.fy, K.cx, K.cy
        np.savetxt(ex / 'intrinsic' / f'intrinsic_{k}.txt', M)
        np.savetxt(ex / 'intrinsic' / f'extrinsic_{k}.txt', np.eye(4))
    rmesh = build_room_mesh(room)
    for i, T in enumerate(trajectory(rng, room.size, frames)):
        _, depth, _ = render(rmesh, K_d, T)
        rgb, _, _ = render(rmesh, K_c, T)
        cv2.imwrite(str(ex / 'depth' / f'{i}.png'), np.rint(depth * 1000).astype(np.uint16))
        cv2.imwrite(str(ex / 'color' / f'{i}.jpg'), rgb[..., ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        pose = to_raw @ T if i != 3 else np.full((4, 4), -np.inf)  # tracking lost once
        np.savetxt(ex / 'pose' / f'{i}.txt', pose)
    return scan, room
