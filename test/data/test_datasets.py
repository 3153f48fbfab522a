"""Real-dataset layouts in, no hand work: 7-Scenes, TUM RGB-D, y-down worlds, geode-replay.

The demo scene (a z-up frames folder with known room size) is rewritten into each
layout as the datasets store it: 7-Scenes without intrinsics.json and with poses
only orthonormal to ~1e-4; TUM with list files, 5000-per-metre PGM depth, stamps
that differ between streams and quaternion ground truth at another rate.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from transforms3d import euler

from geode_ros.cli import replay
from geode_ros.cli.common import repo_root
from geode_ros.data.frames import FramesFolder
from geode_ros.data.sources import detect_format, open_rgbd
from geode_ros.errors import GeodeError
from geode_ros.query.engine import SpatialQueryEngine
from geode_ros.scene.config import SceneConfig
from geode_ros.scene.geometry import matrix_to_quat_xyzw, orthonormality_error

SCENE = repo_root() / 'assets' / 'demo_scene' / 'scenes' / '000000'
ROOM_Q = 'What is the size of this room (in square meters)?'
# World z-up -> a y-down world (x stays, z-up becomes -y): as 7-Scenes/TUM worlds often are.
R_YDOWN = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
# ... and one whose axes follow a tilted first camera (7-Scenes: world = first camera).
R_TILTED = euler.euler2mat(np.radians(-20), np.radians(8), np.radians(30)) @ R_YDOWN


def rotation_4x4(R: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = R
    return T


def _room(frames) -> tuple[float, np.ndarray]:
    """(baseline room area, fused cloud) after ingesting ``frames``."""
    engine = SpatialQueryEngine(SceneConfig(fuse_all_frames=True))
    for frame in frames:
        engine.ingest_frame(frame)
    return engine.query(ROOM_Q).values[0], engine.snapshot().points


@pytest.fixture(scope='module')
def reference():
    return _room(FramesFolder(SCENE))


def _seven_scenes(dest: Path, rotate: np.ndarray | None = None, noise: float = 6e-5) -> Path:
    """The demo scene as a 7-Scenes sequence (no intrinsics.json: an intrinsics file)."""
    dest.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for src in sorted(SCENE.glob('frame-*.pose.txt')):
        stem = src.name[:-len('.pose.txt')]
        for ext in ('color.png', 'depth.png'):
            shutil.copy(SCENE / f'{stem}.{ext}', dest / f'{stem}.{ext}')
        T = np.loadtxt(src)
        if rotate is not None:
            T[:3] = rotate @ T[:3]
        T[:3, :3] += noise * rng.uniform(-1, 1, (3, 3))  # stored to ~1e-4, like 7-Scenes
        np.savetxt(dest / src.name, T, fmt='%.7e')
    return dest


def test_seven_scenes_layout_with_unorthonormal_poses(tmp_path, reference):
    seq = _seven_scenes(tmp_path / 'chess' / 'seq-01')
    errors = [orthonormality_error(np.loadtxt(p)[:3, :3]) for p in seq.glob('*.pose.txt')]
    assert max(errors) > 1e-4  # the old tolerance refused these
    assert detect_format(seq) == '7scenes'
    with pytest.raises(GeodeError, match='wrong size|does not match'):
        list(open_rgbd(seq).frames)  # Kinect defaults are 640x480, these are 160x120
    source = open_rgbd(seq, intrinsics=SCENE / 'intrinsics.json')
    assert source.kind == '7scenes' and source.length == 32
    area, _ = _room(source.frames)
    assert area == pytest.approx(reference[0], rel=0.02)


def _tum(dest: Path) -> Path:
    """The demo scene as a TUM RGB-D sequence."""
    folder = FramesFolder(SCENE)
    (dest / 'rgb').mkdir(parents=True)
    (dest / 'depth').mkdir()
    rgb_lines, depth_lines, gt_lines = ['# color images'], ['# depth maps'], ['# ground truth']
    for i in range(len(folder)):
        t = 1305031102.0 + i / folder.fps
        shutil.copy(folder.read_color_path(i), dest / 'rgb' / f'{t:.6f}.png')
        metres = folder.read_depth_raw(i).astype(np.float64) * folder.depth_scale
        cv2.imwrite(str(dest / 'depth' / f'{t + 0.004:.6f}.pgm'),
                    np.rint(metres * 5000).astype(np.uint16))
        rgb_lines.append(f'{t:.6f} rgb/{t:.6f}.png')
        depth_lines.append(f'{t + 0.004:.6f} depth/{t + 0.004:.6f}.pgm')
        T = folder.read_pose(i)
        for dt in (-0.006, 0.004):  # ground truth at another rate, never at the image stamp
            q = matrix_to_quat_xyzw(T) * (-1 if dt > 0 else 1)  # either sign is the rotation
            gt_lines.append(f'{t + dt:.4f} ' + ' '.join(f'{v:.7f}' for v in (*T[:3, 3], *q)))
    for name, lines in (('rgb.txt', rgb_lines), ('depth.txt', depth_lines),
                        ('groundtruth.txt', gt_lines)):
        (dest / name).write_text('\n'.join(lines) + '\n')
    return dest


def test_tum_layout_reads_like_the_original(tmp_path, reference):
    seq = _tum(tmp_path / 'rgbd_dataset_freiburg1_desk')
    assert detect_format(seq) == 'tum'
    meta = json.loads((SCENE / 'intrinsics.json').read_text())
    intrinsics = tmp_path / 'kinect.json'  # what a TUM user writes: no depth_scale
    intrinsics.write_text(json.dumps({k: meta[k] for k in ('fx', 'fy', 'cx', 'cy', 'width',
                                                            'height')}))
    source = open_rgbd(seq, intrinsics=intrinsics)
    frames, original = list(source.frames), list(FramesFolder(SCENE))
    assert len(frames) == 32 and source.reader.skipped == 0
    for a, b in zip(frames, original):
        assert np.allclose(a.T_world_cam, b.T_world_cam, atol=1e-6)
        assert np.allclose(a.depth, b.depth, atol=2.5e-4)  # 0.2 mm units vs 1 mm
        assert np.array_equal(a.rgb, b.rgb)
    assert _room(frames)[0] == pytest.approx(reference[0], rel=0.02)


def test_tum_freiburg_calibration_from_the_folder_name(tmp_path):
    seq = _tum(tmp_path / 'rgbd_dataset_freiburg3_long_office')
    reader = open_rgbd(seq).reader
    assert reader.intrinsics.fx == pytest.approx(535.4)
    assert reader.camera.depth_scale == pytest.approx(1 / 5000)


@pytest.mark.parametrize('rotation,up_axis', [(R_YDOWN, '-y'), (R_YDOWN, 'auto'),
                                               (R_TILTED, 'auto')])
def test_rotated_world_gives_the_same_room_and_heights(tmp_path, reference, rotation, up_axis):
    seq = _seven_scenes(tmp_path / 'rotated', rotate=rotation, noise=0.0)
    ref_area, ref_points = reference
    tilted_area, _ = _room(open_rgbd(seq, intrinsics=SCENE / 'intrinsics.json').frames)
    area, points = _room(open_rgbd(seq, intrinsics=SCENE / 'intrinsics.json',
                                   up_axis=up_axis).frames)
    assert area == pytest.approx(ref_area, rel=0.02)
    assert abs(tilted_area - ref_area) > 0.1 * ref_area  # without it the answer is wrong
    floor, ref_floor = np.percentile(points[:, 2], 1), np.percentile(ref_points[:, 2], 1)
    ceiling = np.percentile(points[:, 2], 99) - floor  # room height above the floor
    assert ceiling == pytest.approx(np.percentile(ref_points[:, 2], 99) - ref_floor, abs=0.05)
    source = open_rgbd(seq, intrinsics=SCENE / 'intrinsics.json', up_axis=up_axis)
    up = (source.align @ rotation_4x4(rotation))[:3, 2]  # where the true up ends up
    assert np.degrees(np.arccos(np.clip(up[2], -1, 1))) < 1.0


def test_replay_reads_a_seven_scenes_folder(tmp_path):
    seq = _seven_scenes(tmp_path / 'seq', rotate=R_YDOWN)
    questions = tmp_path / 'q.txt'
    questions.write_text(ROOM_Q + '\n')
    out = tmp_path / 'out'
    assert replay.main([str(seq), '--questions', str(questions), '--out', str(out),
                        '--intrinsics', str(SCENE / 'intrinsics.json'), '--up-axis', 'auto',
                        '--rate', '0', '--quiet']) == 0
    result = json.loads((out / 'answers.json').read_text())
    gt = json.loads((SCENE / 'scene.json').read_text())['room']['area']
    assert result['format'] == '7scenes' and result['frames'] == 32
    value = result['answers'][0]['values'][0]
    assert math.isfinite(value) and value == pytest.approx(gt, rel=0.25)


@pytest.mark.parametrize('layout', ['7scenes', 'tum', 'rosbag'])
def test_bench_ingest_reads_every_layout(tmp_path, layout, capsys):
    from geode_ros.cli import bench
    from geode_ros.data.rosbag_reader import write_rgbd_bag

    if layout == '7scenes':
        path = _seven_scenes(tmp_path / 'seq')
    elif layout == 'tum':
        path = _tum(tmp_path / 'tum')
    else:
        path = write_rgbd_bag(list(FramesFolder(SCENE))[:6], tmp_path / 'bag')
    out = tmp_path / 'bench.json'
    assert bench.main(['ingest', '--frames', str(path), '--intrinsics',
                       str(SCENE / 'intrinsics.json'), '--limit', '6', '--repeat', '1',
                       '--json', str(out)]) == 0
    result = json.loads(out.read_text())
    assert result['frames'] == 6 and result['points_ours'] > 1000
    assert result['chamfer_m'] < 0.01  # ours and Open3D fuse the same cloud
