"""geode-prepare on a tiny scan in the ScanNet layout: boxes, labels, registered frames,
visibility, QA; then geode-train and geode-eval run on the converted real-layout data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest
from scannet_scan import RAW, write_scan
from tiny_configs import tiny_train_config

from geode_ros.cli import eval as eval_cli
from geode_ros.cli import prepare
from geode_ros.data.frames import FramesFolder
from geode_ros.data.qa import load_qa
from geode_ros.data.render import build_room_mesh, render
from geode_ros.data.scannet import SYNTHETIC_MAP
from geode_ros.scene import boxgeom
from geode_ros.scene.types import Box3D
from geode_ros.train.trainer import Trainer


@pytest.fixture(scope='module')
def scan(tmp_path_factory):
    root = tmp_path_factory.mktemp('scannet')
    return root, *write_scan(root)


def _prepare(root: Path, scan: Path, out: Path, *extra: str) -> dict:
    code = prepare.main([str(scan), '--out', str(out), '--labels',
                         str(root / 'scannetv2-labels.combined.tsv'), '--frame-stride', '1',
                         '--min-vertices', '4', '--quiet', *extra])
    assert code == 0
    return json.loads((out / 'scenes' / scan.name / 'scene.json').read_text())


def _shift(scan: Path) -> np.ndarray:
    """Where the converter puts the room's origin: the aligned mesh's 1st percentile."""
    from geode_ros.data.scannet import axis_alignment

    v = np.asarray(o3d.io.read_point_cloud(str(next(scan.glob('*.ply')))).points)
    A = axis_alignment(scan / f'{scan.name}.txt')
    return np.percentile(v @ A[:3, :3].T + A[:3, 3], 1, axis=0)


def test_boxes_labels_and_room_come_from_the_annotations(scan, tmp_path):
    root, folder, room = scan
    meta = _prepare(root, folder, tmp_path / 'out')
    lo = _shift(folder)
    want = [o for o in room.objects if SYNTHETIC_MAP.get(RAW[o.label])]
    assert sorted(o['label'] for o in meta['objects']) == sorted(
        SYNTHETIC_MAP[RAW[o.label]] for o in want)
    assert {o['raw_label'] for o in meta['objects']} >= {'office chair', 'desk'} & {
        RAW[o.label] for o in want}
    round_ = {'plant', 'mug', 'bottle', 'trash can', 'lamp'}  # their box may turn freely
    for o, got in zip(want, meta['objects']):
        b = o.box()
        truth, box = Box3D(b.label, b.center - lo, b.size, b.yaw), Box3D.from_dict(got['box'])
        assert np.linalg.norm(truth.center - box.center) < 0.03, o.label
        assert box.size[2] == pytest.approx(truth.size[2], abs=1e-3)
        assert box.size[0] * box.size[1] == pytest.approx(truth.size[0] * truth.size[1],
                                                          rel=0.25)
        if o.label not in round_:
            assert boxgeom.box_iou_3d(truth, box) > 0.9, o.label
    W, L, H = room.size
    assert meta['room']['size'] == pytest.approx([W, L, H], abs=0.15)
    assert not any(o['label'] in ('wall', 'floor', 'ceiling') for o in meta['objects'])


def test_frames_are_registered_aligned_and_the_lost_pose_is_skipped(scan, tmp_path):
    root, folder, room = scan
    meta = _prepare(root, folder, tmp_path / 'out')
    frames = list(FramesFolder(tmp_path / 'out' / 'scenes' / folder.name))
    assert len(frames) == meta['num_frames'] == 9  # 10 exported, one with a -inf pose
    assert (frames[0].intrinsics.width, frames[0].intrinsics.height) == (80, 60)
    lo = _shift(folder)
    mesh = build_room_mesh(room)
    for f in frames[::4]:
        T = f.T_world_cam.copy()
        T[:3, 3] += lo  # back into the layout's world
        rgb, depth, _ = render(mesh, f.intrinsics, T)
        assert np.abs(f.depth - depth).max() < 2e-3  # the pose is the aligned camera's
        diff = np.abs(f.rgb.astype(int) - rgb.astype(int)).mean(-1)
        assert np.median(diff) < 12  # colour registered onto the depth pixels
    seen = [o for o in meta['objects'] if o['first_seen'] is not None]
    assert len(seen) >= len(meta['objects']) // 2
    assert all(0 <= o['first_seen'] < 9 for o in seen)


def test_vocabularies_and_bad_input(scan, tmp_path, capsys):
    root, folder, _ = scan
    nyu = _prepare(root, folder, tmp_path / 'nyu', '--vocabulary', 'nyu40')
    labels = {o['label'] for o in nyu['objects']}
    assert 'desk' in labels or 'chair' in labels
    assert not labels & {'otherprop', 'wall', 'floor'}  # trash cans and cups are otherprop
    raw = _prepare(root, folder, tmp_path / 'raw', '--vocabulary', 'raw', '--axis-aligned')
    assert {o['raw_label'] for o in raw['objects']} == {o['label'] for o in raw['objects']}
    assert all(o['box']['yaw'] == 0.0 for o in raw['objects'])
    assert prepare.main([str(tmp_path), '--out', str(tmp_path / 'x'), '--quiet']) == 2
    assert 'no ScanNet scan folders' in capsys.readouterr().err


def test_train_and_eval_run_on_the_converted_scan(scan, tmp_path, capsys):
    root, folder, _ = scan
    data = tmp_path / 'data'
    _prepare(root, folder, data, '--vocabulary', 'nyu40', '--questions-per-scene', '24')
    records = load_qa(data / 'qa.jsonl')
    assert records and {r.scene for r in records} == {f'scenes/{folder.name}'}
    cfg = tiny_train_config(data, tmp_path / 'run', stage=1, steps=2, eval_data=data)
    cfg.object_steps = 2
    trainer = Trainer(cfg, progress=False)
    classes = sorted({o['label'] for o in json.loads(
        (data / 'scenes' / folder.name / 'scene.json').read_text())['objects']})
    assert list(trainer.model.config.objects.classes) == classes  # the data's vocabulary
    final = trainer.fit()
    oc = trainer.model.config.objects  # calibrated on eval_data
    assert 0 < oc.temperature <= 20 and 0 < oc.score_threshold <= oc.confident_score <= 1
    assert eval_cli.main(['--model', str(final), '--data', str(data), '--no-blind',
                          '--quiet']) == 0
    assert 'overall (VSI types)' in capsys.readouterr().out
