"""Object proposals: structure removal, segmentation that survives texture, noise and
missing colour, boxes, first keyframe / first stamp."""

from __future__ import annotations

import numpy as np
import pytest
from room_clouds import BOX, MUG, TABLE, VOXEL, grid, room_cloud
from scipy.spatial import cKDTree

from geode_ros.scene import boxgeom
from geode_ros.scene import segmentation as seg
from geode_ros.scene.proposals import ProposalConfig, first_seen, propose_objects
from geode_ros.scene.types import Box3D, CameraIntrinsics, Keyframe, RGBDFrame

# the room_cloud objects as axis-aligned boxes (voxel centres grown by half a voxel)
OBJECTS = {'table': ((1.0, 1.0, 0.0), (2.0, 1.6, 0.75)),
           'mug': ((1.45, 1.25, 0.8), (1.55, 1.35, 0.9)),
           'box': ((3.0, 2.0, 0.0), (3.4, 2.4, 0.4))}


def _gt(name: str, offset=(0.0, 0.0)) -> Box3D:
    lo, hi = (np.asarray(v, float) for v in OBJECTS[name])
    lo, hi = lo - VOXEL / 2, hi + VOXEL / 2
    lo[:2] += offset
    hi[:2] += offset
    return Box3D(name, (lo + hi) / 2, hi - lo, 0.0)


def _best(props, gt: Box3D) -> tuple[int, float]:
    """The proposal whose box overlaps ``gt`` most, and that IoU."""
    ious = [boxgeom.box_iou_3d(gt, Box3D('', b[:3], b[3:6], float(b[6]))) for b in props.boxes]
    return int(np.argmax(ious)), float(max(ious))


def _structure(pts: np.ndarray) -> np.ndarray:
    """Points of the room_cloud's floor, ceiling and walls (4 x 3 x 2.5 m)."""
    return ((pts[:, 2] < 0.01) | (pts[:, 2] > 2.49) | (pts[:, 0] < 0.01) | (pts[:, 0] > 3.99)
            | (pts[:, 1] < 0.01) | (pts[:, 1] > 2.99))


def _sensor(pts: np.ndarray, cols: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The room as a real camera's fused cloud: 1 cm position noise, a voxel-scale texture
    (stripes of 0.6x, 1x and 1.4x brightness, as wood grain under uneven light) and colour
    noise."""
    rng = np.random.default_rng(seed)
    noisy = pts + rng.normal(0, 0.01, pts.shape)
    stripe = np.array([0.6, 1.0, 1.4])[(np.round(pts[:, 0] / VOXEL) % 3).astype(int)][:, None]
    c = np.clip(cols * stripe + rng.normal(0, 8, cols.shape), 0, 255)
    return noisy.astype(np.float32), c.astype(np.uint8)


def test_objects_are_separated_from_structure_and_from_their_support():
    pts, cols, _ = room_cloud()
    props = propose_objects(pts, cols)
    for name in OBJECTS:
        assert _best(props, _gt(name))[1] > 0.6, name
    mug, _ = _best(props, _gt('mug'))
    assert props.boxes[mug, 3:6] == pytest.approx([0.15, 0.15, 0.15], abs=0.06)
    assert props.color_mean[mug] == pytest.approx(np.array(MUG) / 255, abs=1e-6)
    box, _ = _best(props, _gt('box'))
    # its base was in the floor band: the box is extended down to the floor
    assert props.boxes[box, 2] - props.boxes[box, 5] / 2 == pytest.approx(0.0, abs=1e-6)
    assert props.boxes[box, 5] == pytest.approx(0.45, abs=0.06)
    assert props.room_area == pytest.approx(12.0, rel=0.08)
    assert sorted(len(m) for m in props.members) == sorted(props.num_points.tolist())
    for m in props.members:  # nothing of floor, walls or ceiling; every proposal on an object
        assert not _structure(pts[m]).any()
        assert any(boxgeom.points_in_box(pts[m], _gt(n), 0.01).mean() > 0.9 for n in OBJECTS)


def test_a_rotated_room_gives_the_same_proposals():
    pts, cols, _ = room_cloud()
    yaw = np.deg2rad(30)
    R = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    a = propose_objects(pts, cols)
    b = propose_objects((pts @ R.T).astype(np.float32), cols)
    assert len(a) == len(b) >= 3
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
    lo, hi = np.array([1.5, -0.05, 0.0]), np.array([2.3, 0.05, 2.0])
    _, iou = _best(props, Box3D('door', (lo + hi) / 2, hi - lo + VOXEL, 0.0))
    assert iou > 0.3


def test_texture_shading_and_depth_noise_do_not_break_objects_apart():
    pts, cols, _ = room_cloud()
    noisy, shaded = _sensor(pts, cols)
    props = propose_objects(noisy, shaded)
    for name in OBJECTS:  # (1 cm noise grows a 15 cm mug's box by a voxel)
        assert _best(props, _gt(name))[1] > (0.3 if name == 'mug' else 0.6), name
    # a raw-colour threshold (what flat-coloured rooms allowed) shatters the same table
    c = shaded.astype(float) / 255
    pairs = seg.radius_pairs(noisy, 0.09)
    same = np.linalg.norm(c[pairs[:, 0]] - c[pairs[:, 1]], axis=1) < 0.16
    table = boxgeom.points_in_box(noisy, _gt('table'), 0.0) & (noisy[:, 2] > 0.1)
    keep = table[pairs[:, 0]] & table[pairs[:, 1]] & same
    _, label = seg.components(len(noisy), pairs[keep])
    assert np.unique(label[table], return_counts=True)[1].max() < 0.6 * table.sum()


def test_depth_only_clouds_still_give_every_object_and_the_mug_on_its_table():
    pts, cols, _ = room_cloud()
    for colours in (None, np.full_like(cols, 128)):
        props = propose_objects(pts, colours)
        for name in OBJECTS:
            assert _best(props, _gt(name))[1] > 0.6, name


def test_an_object_of_its_supports_colour_is_found_by_geometry():
    pts, cols, parts = room_cloud()
    mug = np.all(np.abs(pts - [1.5, 1.3, 0.85]) < 0.06, axis=1)
    cols = cols.copy()
    cols[mug] = TABLE  # a mug of the table's colour
    props = propose_objects(pts, cols)
    assert _best(props, _gt('mug'))[1] > 0.5
    assert _best(props, _gt('box'))[1] > 0.6 and tuple(BOX) != tuple(TABLE)


def test_noise_points_and_impossible_segments_are_dropped():
    pts, cols, _ = room_cloud()
    rng = np.random.default_rng(1)
    speckle = rng.uniform([0.5, 0.5, 0.5], [3.5, 2.5, 2.0], (400, 3)).astype(np.float32)
    far = cKDTree(pts).query(speckle)[0] > 0.15
    speckle = speckle[far][:40]
    props = propose_objects(np.concatenate([pts, speckle]),
                            np.concatenate([cols, np.full((len(speckle), 3), 90, np.uint8)]))
    for m in props.members:  # isolated voxels (speckle, flying pixels) never form proposals
        assert not np.isin(m, np.arange(len(pts), len(pts) + len(speckle))).any()
    cfg = ProposalConfig(max_extent_m=0.5)  # nothing larger than 0.5 m is one object
    small = propose_objects(pts, cols, cfg)
    assert _best(small, _gt('mug'))[1] > 0.6 and _best(small, _gt('table'))[1] < 0.2
    with pytest.raises(ValueError, match='unknown proposal hypotheses'):
        propose_objects(pts, cols, ProposalConfig(hypotheses=('colour', 'magic')))


def test_empty_nan_and_tiny_clouds():
    cfg = ProposalConfig()
    empty = propose_objects(np.zeros((0, 3)), np.zeros((0, 3), np.uint8), cfg)
    assert len(empty) == 0 and empty.points.shape == (0, cfg.max_points_per_proposal, 3)
    pts, cols, _ = room_cloud()
    ref = len(propose_objects(pts, cols))
    pts = pts.copy()
    pts[::50] = np.nan
    props = propose_objects(pts, cols)
    assert len(props) >= 3 and abs(len(props) - ref) <= 2
    assert all(np.isfinite(pts[m]).all() for m in props.members)


def test_segmentation_parts():
    plane = grid((0, 0, 1.0), (1, 1, 1.0)).astype(np.float32)
    pairs = seg.radius_pairs(plane, 0.09)
    normals, flatness = seg.normals_from(plane, seg.adjacency(pairs, len(plane)))
    assert np.abs(normals[:, 2]) == pytest.approx(np.ones(len(plane)), abs=1e-4)
    assert flatness.min() > 0.99
    rgb = np.array([[0.6, 0.3, 0.2], [0.3, 0.15, 0.1]])  # one colour, half the light
    f = seg.colour_features(rgb, None, brightness_weight=0.0)
    assert f[0] == pytest.approx(f[1], abs=0.1)  # chromaticity ignores the shading
    a, b, c = np.arange(10), np.arange(9), np.arange(20, 30)
    assert [len(s) for s in seg.dedupe([a, b, c], 30, 0.8)] == [10, 10]


def test_first_seen_is_the_first_keyframe_that_shows_the_object():
    pts, cols, _ = room_cloud()
    props = propose_objects(pts, cols)
    box, _ = _best(props, _gt('box'))
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


def test_first_seen_without_keyframes_comes_from_the_point_stamps():
    pts, cols, _ = room_cloud()
    props = propose_objects(pts, cols)
    stamps = np.where(pts[:, 0] > 2.5, 7.0, 3.0)  # the far side of the room came later
    stamps[np.flatnonzero(pts[:, 0] > 2.5)[:2]] = 0.0  # two early noise stamps: ignored
    seen = first_seen(props, [], stamps)
    assert seen[_best(props, _gt('box'))[0]] == pytest.approx(7.0)
    assert seen[_best(props, _gt('table'))[0]] == pytest.approx(3.0)
    assert np.isinf(first_seen(props, [])).all()  # neither keyframes nor stamps
