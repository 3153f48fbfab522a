"""Synthetic scene generator: rendered depth agrees with the GT boxes, determinism, output."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip('open3d')

from geode_ros.cli.synth import main  # noqa: E402
from geode_ros.data.frames import FramesFolder  # noqa: E402
from geode_ros.data.qa import QUESTION_TYPES, load_qa  # noqa: E402
from geode_ros.data.scene_layout import CATALOGUE, CLASSES, generate_layout  # noqa: E402
from geode_ros.data.synth import SynthConfig, generate_dataset, render_scene  # noqa: E402
from geode_ros.errors import GeodeError  # noqa: E402
from geode_ros.scene import boxgeom  # noqa: E402
from geode_ros.scene.types import Box3D  # noqa: E402
from geode_ros.version import __version__  # noqa: E402

SMALL = SynthConfig(scenes=3, width=96, height=72, frames=12, questions_per_scene=30, workers=1)


def _backproject(depth, u, v, K, T):
    z = depth[v, u]
    pts = np.stack([(u - K['cx']) / K['fx'] * z, (v - K['cy']) / K['fy'] * z, z], axis=1)
    return pts @ T[:3, :3].T + T[:3, 3]


@pytest.fixture(scope='module')
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('synth')
    generate_dataset(dataclasses.replace(SMALL, out=out), progress=False)
    return out


def test_catalogue_has_distinct_classes_and_shapes():
    assert len(CLASSES) >= 15
    rng = np.random.default_rng(0)
    colours = {label: builder(rng)[0].color for label, (builder, _) in CATALOGUE.items()}
    assert len(set(colours.values())) == len(colours)
    kinds = {p.kind for builder, _ in CATALOGUE.values() for p in builder(rng)}
    assert kinds == {'box', 'cylinder', 'sphere'}
    assert len(CATALOGUE['table'][0](rng)) == 5  # top + 4 legs


@pytest.mark.parametrize('seed', range(4))
def test_layout_objects_do_not_overlap(seed):
    room = generate_layout(np.random.default_rng(seed))
    W, L, H = room.size
    assert 3.0 <= W <= 8.0 and 3.0 <= L <= 8.0 and 2.4 <= H <= 3.0
    labels = [o.label for o in room.objects]
    assert len(set(labels)) >= 4 and len(labels) > len(set(labels))  # repeated classes
    boxes = [o.box() for o in room.objects]
    for a, b in itertools.combinations(boxes, 2):
        assert boxgeom.box_iou_3d(a, b) < 1e-9, (a.label, b.label)
    for o, b in zip(room.objects, boxes):
        lo, hi = boxgeom.world_extent(b)
        assert lo.min() > -1e-6 and hi[0] <= W + 1e-6 and hi[1] <= L + 1e-6 and hi[2] < H
        if o.support is not None:  # small objects stand on their support's top
            top = boxgeom.z_range(boxes[o.support])[1]
            assert abs(boxgeom.z_range(b)[0] - top) < 1e-9


def test_rendered_depth_lies_in_gt_boxes():
    meta, frames = render_scene(1, SMALL)
    K = dataclasses.asdict(SMALL.intrinsics())
    boxes = {o['id']: Box3D.from_dict(o['box']) for o in meta['objects']}
    checked = 0
    for rgb, depth, inst, T in frames:
        assert rgb.shape == (72, 96, 3) and rgb.dtype == np.uint8
        assert depth.dtype == np.float32 and (depth > 0).all()  # closed room: every ray hits
        v, u = np.nonzero(inst >= 0)
        pts = _backproject(depth, u, v, K, T)
        for oid in np.unique(inst[inst >= 0]):
            m = inst[v, u] == oid
            assert boxgeom.points_in_box(pts[m], boxes[int(oid)], tol=0.005).all()
            checked += int(m.sum())
        # structure pixels lie on the room's floor / walls / ceiling
        v, u = np.nonzero(inst < 0)
        p = _backproject(depth, u, v, K, T)
        size = np.asarray(meta['room']['size'])
        dist = np.minimum(np.abs(p), np.abs(p - size)).min(axis=1)
        assert dist.max() < 0.005
    assert checked > 1000


def test_render_is_deterministic_per_seed():
    m1, f1 = render_scene(2, SMALL)
    m2, f2 = render_scene(2, SMALL)
    assert json.dumps(m1) == json.dumps(m2)
    for a, b in zip(f1, f2):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    m3, _ = render_scene(3, SMALL)
    assert m3['room'] != m1['room']


def test_dataset_on_disk(dataset):
    records = load_qa(dataset / 'qa.jsonl')
    assert len(records) == 3 * (30 + SMALL.everyday_per_scene)
    assert {r.scene for r in records} == {f'scenes/{i:06d}' for i in range(3)}
    assert set(QUESTION_TYPES) <= {r.type for r in records}
    assert all(r.rationale for r in records if r.style == 'template')
    assert all(r.program for r in records if r.style == 'everyday')
    meta = json.loads((dataset / 'scenes' / '000000' / 'scene.json').read_text())
    assert len(meta['robot_pose']) == 4 and meta['fps'] == 2.0
    scene = dataset / 'scenes' / '000000'
    K = json.loads((scene / 'intrinsics.json').read_text())
    assert {'fx', 'fy', 'cx', 'cy', 'width', 'height', 'depth_scale'} <= set(K)
    folder = FramesFolder(scene)
    assert len(folder) == 12 and folder[3].depth.shape == (72, 96)
    meta = json.loads((scene / 'scene.json').read_text())
    assert len(meta['visibility']) == meta['num_frames'] == 12
    boxes = {o['id']: Box3D.from_dict(o['box']) for o in meta['objects']}
    for i in (0, 6):
        stem = scene / f'frame-{i:06d}'
        depth_raw = cv2.imread(f'{stem}.depth.png', cv2.IMREAD_UNCHANGED)
        assert depth_raw.dtype == np.uint16 and depth_raw.shape == (72, 96)
        inst = cv2.imread(f'{stem}.instance.png', cv2.IMREAD_UNCHANGED).astype(int) - 1
        T = np.loadtxt(f'{stem}.pose.txt')
        np.testing.assert_allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-6)
        assert cv2.imread(f'{stem}.color.png').shape == (72, 96, 3)
        v, u = np.nonzero(inst >= 0)
        pts = _backproject(depth_raw * K['depth_scale'], u, v, K, T)
        for oid in np.unique(inst[inst >= 0]):
            m = inst[v, u] == oid
            assert boxgeom.points_in_box(pts[m], boxes[int(oid)], tol=0.01).all()
        seen = {int(k) for k in meta['visibility'][i]['pixels']}
        assert seen <= set(np.unique(inst[inst >= 0]).tolist())


def test_cli_parallel_matches_inline(dataset, tmp_path, capsys):
    rc = main(['--scenes', '3', '--out', str(tmp_path), '--workers', '2', '--width', '96',
               '--height', '72', '--frames', '12', '--questions-per-scene', '30', '--quiet'])
    assert rc == 0
    assert (tmp_path / 'qa.jsonl').read_text() == (dataset / 'qa.jsonl').read_text()
    for name in ('scene.json', 'frame-000005.depth.png', 'frame-000005.color.png'):
        a = (tmp_path / 'scenes' / '000002' / name).read_bytes()
        assert a == (dataset / 'scenes' / '000002' / name).read_bytes()


def test_cli_version_and_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(['--version'])
    assert exc.value.code == 0 and __version__ in capsys.readouterr().out
    assert main(['--scenes', '1', '--out', str(tmp_path), '--width', '4', '--quiet']) == 2
    assert 'too small' in capsys.readouterr().err
    with pytest.raises(GeodeError):
        SynthConfig(hfov_deg=5.0).validate()
