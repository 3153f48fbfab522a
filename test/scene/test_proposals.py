"""Object proposals: structure removal, colour-aware components, boxes, first keyframe."""

from __future__ import annotations

import numpy as np
import pytest
from room_clouds import MUG, VOXEL, grid, room_cloud

from geode_ros.scene.proposals import ProposalConfig, first_seen, propose_objects
from geode_ros.scene.types import CameraIntrinsics, Keyframe, RGBDFrame


def _containing(props, lo, hi) -> int:
    """The proposal whose box centre lies in [lo, hi]."""
    c = props.boxes[:, :3]
    inside = np.all((c >= lo) & (c <= hi), axis=1)
    assert inside.sum() == 1, props.boxes
    return int(np.flatnonzero(inside)[0])


def test_objects_are_separated_from_structure_and_from_their_support():
    pts, cols, _ = room_cloud()
    props = propose_objects(pts, cols)
    assert len(props) == 3  # table, mug, box; nothing of floor, walls or ceiling
    mug = _containing(props, (1.4, 1.2, 0.75), (1.6, 1.4, 0.95))
    assert props.boxes[mug, 3:6] == pytest.approx([0.15, 0.15, 0.15], abs=0.06)
    assert props.color_mean[mug] == pytest.approx(np.array(MUG) / 255, abs=1e-6)
    box = _containing(props, (3.0, 2.0, 0.0), (3.4, 2.4, 0.5))
    # its base was in the floor band: the box is extended down to the floor
    assert props.boxes[box, 2] - props.boxes[box, 5] / 2 == pytest.approx(0.0, abs=1e-6)
    assert props.boxes[box, 5] == pytest.approx(0.45, abs=0.06)
    assert props.room_area == pytest.approx(12.0, rel=0.08)
    assert sorted(len(m) for m in props.members) == sorted(props.num_points.tolist())


def test_a_rotated_room_gives_the_same_proposals():
    pts, cols, _ = room_cloud()
    yaw = np.deg2rad(30)
    R = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    a = propose_objects(pts, cols)
    b = propose_objects((pts @ R.T).astype(np.float32), cols)
    assert len(a) == len(b) == 3
    assert sorted(b.num_points.tolist()) == sorted(a.num_points.tolist())
    assert b.room_area == pytest.approx(a.room_area, rel=0.05)


def test_an_object_flush_with_a_wall_is_kept_by_its_colour():
    pts, cols, _ = room_cloud()
    door = grid((1.5, 0.0, 0.05), (2.3, 0.0, 2.0))  # in the wall plane, another colour
    keep = ~np.isin(np.round(pts / VOXEL).astype(int).view([('', int)] * 3),
                    np.round(door / VOXEL).astype(int).view([('', int)] * 3)).ravel()
    pts = np.concatenate([pts[keep], door]).astype(np.float32)
    cols = np.concatenate([cols[keep], np.tile((140, 69, 20), (len(door), 1))]).astype(np.uint8)
    props = propose_objects(pts, cols)
    assert len(props) == 4
    _containing(props, (1.5, -0.1, 0.5), (2.3, 0.1, 1.5))


def test_empty_nan_and_tiny_clouds():
    cfg = ProposalConfig()
    empty = propose_objects(np.zeros((0, 3)), np.zeros((0, 3), np.uint8), cfg)
    assert len(empty) == 0 and empty.points.shape == (0, cfg.max_points_per_proposal, 3)
    pts, cols, _ = room_cloud()
    pts = pts.copy()
    pts[::50] = np.nan
    assert len(propose_objects(pts, cols)) == 3


def test_first_seen_is_the_first_keyframe_that_shows_the_object():
    pts, cols, _ = room_cloud()
    props = propose_objects(pts, cols)
    box = _containing(props, (3.0, 2.0, 0.0), (3.4, 2.4, 0.5))
    k = CameraIntrinsics(fx=100.0, fy=100.0, cx=80.0, cy=60.0, width=160, height=120)

    def looking_at(target: np.ndarray, eye: np.ndarray) -> RGBDFrame:
        z = (target - eye) / np.linalg.norm(target - eye)
        x = np.cross(z, [0, 0, 1.0])
        x /= np.linalg.norm(x)
        T = np.eye(4)
        T[:3, :3] = np.stack([x, np.cross(z, x), z], 1)
        T[:3, 3] = eye
        # depth rendered from the proposal's own points (a synthetic z-buffer)
        cam = (props.points.reshape(-1, 3) - eye) @ T[:3, :3]
        depth = np.zeros((120, 160), np.float32)
        uv = np.floor(cam[:, :2] / cam[:, 2:] * 100 + [80, 60]).astype(int)
        ok = (cam[:, 2] > 0) & (uv >= 0).all(1) & (uv[:, 0] < 160) & (uv[:, 1] < 120)
        for (u, v), d in sorted(zip(uv[ok], cam[ok, 2]), key=lambda t: -t[1]):
            depth[v, u] = d  # nearest last
        return RGBDFrame(np.zeros((120, 160, 3), np.uint8), depth, k, T)

    away = looking_at(np.array([0.0, 0.0, 1.0]), np.array([2.0, 1.5, 1.2]))
    towards = looking_at(props.boxes[box, :3], np.array([1.0, 0.5, 1.2]))
    seen = first_seen(props, [Keyframe(away, 0), Keyframe(away, 1), Keyframe(towards, 2)])
    assert seen[box] == 2
    assert np.isinf(first_seen(props, [Keyframe(away, 0)])[box])
