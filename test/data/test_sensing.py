"""Realistic synthetic sensing: materials, lights, the two sensor models, and the promise
that geometry, ground truth and questions do not depend on how the room is seen."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

pytest.importorskip('open3d')

from geode_ros.cli.synth import main as synth_main  # noqa: E402
from geode_ros.data.materials import CLUTTER, clutter, dress, extra_parts, texture  # noqa: E402
from geode_ros.data.render import (  # noqa: E402
    build_room_mesh,
    render,
    render_lit,
    sample_lights,
    trajectory,
)
from geode_ros.data.scene_layout import generate_layout  # noqa: E402
from geode_ros.data.sensing import KinectSensor, StereoSensor, make_sensor  # noqa: E402
from geode_ros.data.synth import SynthConfig, generate_dataset, render_scene  # noqa: E402
from geode_ros.scene.types import CameraIntrinsics  # noqa: E402

SMALL = SynthConfig(scenes=1, width=96, height=72, frames=10, questions_per_scene=24, workers=1)
K = CameraIntrinsics(100.0, 100.0, 80.0, 60.0, 160, 120)


def _wall(z: float) -> np.ndarray:
    return np.full((120, 160), z, np.float32)


def _lit(depth: np.ndarray) -> dict:
    return {'depth': depth, 'cos_view': np.ones_like(depth), 'albedo': np.full_like(depth, 0.5),
            'radiance': np.full((*depth.shape, 3), 0.4)}


@pytest.mark.parametrize('mode', ['realistic', 'heldout'])
def test_every_mode_keeps_layout_ground_truth_and_questions(tmp_path, mode):
    clean = generate_dataset(dataclasses.replace(SMALL, out=tmp_path / 'clean', seed=11),
                             progress=False)
    other = generate_dataset(dataclasses.replace(SMALL, out=tmp_path / mode, seed=11,
                                                 sensing=mode), progress=False)
    assert clean.read_text() == other.read_text()  # identical questions and answers
    a = json.loads((tmp_path / 'clean/scenes/000000/scene.json').read_text())
    b = json.loads((tmp_path / mode / 'scenes/000000/scene.json').read_text())
    assert a['objects'] == b['objects'] and a['room'] == b['room']
    assert 'sensing' not in a and b['sensing'] == {'mode': mode, 'strength': 1.0}


def test_realistic_frames_are_noisy_holed_and_drifted_but_close_to_the_truth():
    exact, frames_c = render_scene(2, SMALL)
    meta, frames_r = render_scene(2, dataclasses.replace(SMALL, sensing='realistic'))
    assert meta['objects'] == exact['objects']
    holes, errors, near, far, drift = [], [], [], [], []
    for (rgb_c, d_c, inst_c, T), (rgb, d, inst, T_rep) in zip(frames_c, frames_r):
        # the same objects where they are seen (a rug can hide the last 8 mm of a leg)
        assert (inst[inst_c >= 0] == inst_c[inst_c >= 0]).mean() > 0.98
        ok = (d > 0) & (d_c > 0)
        holes.append(1 - ok.mean())
        err = np.abs(d[ok] - d_c[ok])
        errors.append(np.median(err))
        near.append(err[d_c[ok] < 1.5])
        far.append(err[d_c[ok] > 3.0])
        assert rgb.dtype == np.uint8 and np.abs(rgb.astype(int) - rgb_c).mean() > 10
        drift.append(np.linalg.norm(T_rep[:3, 3] - T[:3, 3]))
    assert 0.02 < np.mean(holes) < 0.4  # some depth is missing, most is there
    assert np.median(errors) < 0.02
    near, far = np.concatenate(near), np.concatenate(far)
    if len(near) > 50 and len(far) > 50:  # noise grows with distance (z^2 model)
        assert np.median(far) > 1.5 * np.median(near)
    assert 0 < drift[-1] < 0.1 and drift[0] < drift[-1] + 0.05


def test_kinect_noise_grows_with_z_squared_and_quantises_disparity():
    rng = np.random.default_rng(0)
    s = KinectSensor(K, 1.0, rng)
    stds = {}
    for z in (1.0, 3.0):
        d = s.depth(_wall(z), np.ones((120, 160)), np.full((120, 160), 0.5))
        v = d[d > 0]
        stds[z] = v.std()
        steps = np.diff(np.unique(v))
        assert steps.min() == pytest.approx(z * z / s.DISPARITY_C, rel=0.1)
    # axial sigma 1.2 mm + 1.9 mm (z - 0.4)^2: ~1.9 mm at 1 m, ~14 mm at 3 m (plus steps)
    assert 4 < stds[3.0] / stds[1.0] < 12
    ideal = KinectSensor(K, 0.0, np.random.default_rng(1))
    d = ideal.depth(_wall(2.0), np.ones((120, 160)), np.full((120, 160), 0.5))
    assert np.array_equal(d, _wall(2.0))  # strength 0: no noise, no random holes


def test_the_two_sensors_make_different_holes_beside_a_foreground_object():
    depth = _wall(3.0)
    depth[40:80, 60:100] = 1.0  # a box in front of the wall
    flat, grey = np.ones((120, 160)), np.full((120, 160), 0.5)
    kin = KinectSensor(K, 1.0, np.random.default_rng(2)).depth(depth, flat, grey)
    ste = StereoSensor(K, 1.0, np.random.default_rng(2)).depth(depth, flat, grey)
    # the projector (7.5 cm to one side) leaves a shadow on the wall beside the box; the
    # stereo pair's occlusion is on the other side
    # (disparity 100 px x 7.5 cm x (1/1 m - 1/3 m) = 5 px; stereo: 5 cm, 3.3 px)
    assert (kin[45:75, 100:104] == 0).mean() > 0.8 and (kin[45:75, 56:60] == 0).mean() < 0.5
    assert (ste[45:75, 57:60] == 0).mean() > 0.8 and (ste[45:75, 100:104] == 0).mean() < 0.5
    band = StereoSensor(K, 1.0, np.random.default_rng(3))
    assert (band.depth(_wall(2.0), flat, grey)[:, :band.band] == 0).all()  # left band
    with pytest.raises(ValueError, match='sensing mode'):
        make_sensor('clean', K, 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match='strength'):
        KinectSensor(K, 9.0, np.random.default_rng(0))


def test_colour_pipelines_expose_blur_and_differ():
    rng = np.random.default_rng(4)
    radiance = rng.uniform(0, 0.5, (120, 160, 3))
    T0, T1 = np.eye(4), np.eye(4)
    yaw = np.deg2rad(10)
    T1[:3, :3] = [[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]]
    for cls in (KinectSensor, StereoSensor):
        s = cls(K, 1.0, np.random.default_rng(5))
        a, _, _ = s.capture(_lit(_wall(2.0)) | {'radiance': radiance}, T0)
        b, _, _ = s.capture(_lit(_wall(2.0)) | {'radiance': radiance}, T1)
        assert a.dtype == np.uint8 and a.shape == (120, 160, 3)
        # turning the camera smears the image horizontally: neighbours grow alike
        assert np.abs(np.diff(b.astype(float), axis=1)).mean() < \
            np.abs(np.diff(a.astype(float), axis=1)).mean()


def test_materials_give_several_colours_textures_and_clutter():
    rng = np.random.default_rng(7)
    room = generate_layout(rng)
    extras = clutter(room, np.random.default_rng(8))
    mesh = build_room_mesh(room, extra_parts(extras))
    assert (mesh.instance == CLUTTER).sum() == sum(e.instance == CLUTTER for e in extras)
    look = dress(room, mesh.part_owner, np.random.default_rng(9))
    assert len(look.albedo) == len(mesh.instance)
    per_object = {}
    for g, (inst, _) in enumerate(mesh.part_owner):
        if inst >= 0:
            per_object.setdefault(inst, set()).add(tuple(np.round(look.albedo[g], 3)))
    assert sum(len(v) > 1 for v in per_object.values()) >= 2  # multi-colour objects
    same_class = [tuple(np.round(look.albedo[[g for g, (i, _) in enumerate(mesh.part_owner)
                                              if i == o.id][0]], 3))
                  for o in room.objects if o.label == room.objects[0].label]
    if len(same_class) > 1:
        assert len(set(same_class)) > 1  # instances of a class differ
    pts = np.random.default_rng(0).uniform(0, 3, (500, 3))
    gid = np.zeros(500, np.int64)  # the floor: a textured material
    t = texture(pts, gid, look)
    assert ((t >= 0) & (t <= 1)).all() and np.array_equal(t, texture(pts, gid, look))
    heldout = dataclasses.replace(look, family='heldout')
    assert not np.allclose(texture(pts, gid, heldout), t)


def test_lit_render_keeps_the_exact_depth():
    rng = np.random.default_rng(3)
    room = generate_layout(rng)
    mesh = build_room_mesh(room)
    look = dress(room, mesh.part_owner, rng)
    T = trajectory(rng, room.size, 4)[1]
    lit = render_lit(mesh, look, sample_lights(rng, room.size), K, T)
    _, depth, inst = render(mesh, K, T)
    assert np.array_equal(lit['depth'], depth) and np.array_equal(lit['instance'], inst)
    assert (lit['radiance'] >= 0).all() and lit['radiance'].std() > 0.01
    assert ((lit['cos_view'] >= 0) & (lit['cos_view'] <= 1 + 1e-9)).all()


def test_cli_rejects_unknown_modes_and_strengths(tmp_path, capsys):
    assert synth_main(['--scenes', '1', '--out', str(tmp_path), '--sensing', 'fancy']) == 2
    assert 'sensing must be one of clean, realistic, heldout' in capsys.readouterr().err
    assert synth_main(['--scenes', '1', '--out', str(tmp_path), '--sensing-strength', '9']) == 2
