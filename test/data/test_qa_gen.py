"""QA generation: templates, balance, and answers recomputed independently from geometry."""

from __future__ import annotations

import re

import numpy as np
import pytest

from geode_ros.data.qa import (
    CHOICE_TYPES,
    QUESTION_TYPES,
    ROBOT_TYPES,
    QARecord,
    load_qa,
    save_qa,
)
from geode_ros.data.qa_gen import SceneGT, generate_qa
from geode_ros.data.scene_layout import generate_layout
from geode_ros.errors import GeodeError
from geode_ros.scene import boxgeom
from geode_ros.scene.types import Box3D

TEMPLATES = {
    'object_count': r'^How many (.+)\(s\) are in this room\?$',
    'object_abs_distance': r'^Measuring from the closest point of each object, what is the '
                           r'direct distance between the (.+) and the (.+) \(in meters\)\?$',
    'object_size_estimation': r'^What is the length of the longest dimension \(length, width, '
                              r'or height\) of the (.+), measured in centimeters\?$',
    'room_size_estimation': r'^What is the size of this room \(in square meters\)\? If '
                            r'multiple rooms are shown, estimate the size of the combined '
                            r'space\.$',
    'object_rel_distance': r'^Measuring from the closest point of each object, which of these '
                           r'objects \((.+)\) is the closest to the (.+)\?$',
    'object_rel_direction': r'^If I am standing by the (.+) and facing the (.+), is the (.+) to '
                            r'my left, right, or back\? An object is to my back if I would have '
                            r'to turn at least 135 degrees in order to face it\.$',
    'route_plan': r"^You are a robot beginning at the (.+) facing the (.+)\. You want to "
                  r"navigate to the (.+)\. You will perform the following actions \(Note: for "
                  r"each \[please fill in\], choose either 'turn back,' 'turn left,' or 'turn "
                  r"right\.'\): 1\. \[please fill in\] 2\. Go forward until the .+\. .*You have "
                  r"reached the final destination\.$",
    'obj_appearance_order': r'^What will be the first-time appearance order of the following '
                            r'categories in the video: (.+)\?$',
    'grounding_3d': r'^Where is the (.+)\? Give its 3D bounding box\.$',
}

TEMPLATE_TYPES = tuple(t for t in QUESTION_TYPES if t not in ROBOT_TYPES)


def layout_meta(seed: int) -> dict:
    """scene.json-like ground truth from a layout, objects 'seen' in id order (no rendering)."""
    room = generate_layout(np.random.default_rng(seed))
    W, L, H = room.size
    return {'scene': f'scenes/{seed:06d}', 'room': {'size': [W, L, H], 'area': W * L},
            'objects': [{'id': o.id, 'label': o.label, 'first_seen': o.id // 2,
                         'box': o.box().to_dict()} for o in room.objects]}


def hand_meta() -> dict:
    """The DESIGN example: sofa x 0.40..2.40, y 3.10..4.00; lamp x 3.90..4.20, y 2.70..3.00."""
    objs = [('sofa', (1.4, 3.55, 0.425), (2.0, 0.9, 0.85), 0.0, 0),
            ('lamp', (4.05, 2.85, 0.8), (0.3, 0.3, 1.6), 0.0, 3),
            ('tv', (5.0, 4.0, 1.0), (1.0, 0.1, 0.6), 0.0, 5),
            ('bed', (2.0, 1.0, 0.3), (1.6, 2.0, 0.6), np.pi / 2, 1),
            ('chair', (5.0, 1.0, 0.45), (0.5, 0.5, 0.9), 0.3, 2),
            ('chair', (5.5, 2.0, 0.45), (0.5, 0.5, 0.9), 1.0, 4)]
    return {'scene': 'scenes/hand', 'room': {'size': [6.0, 5.0, 2.6], 'area': 30.0},
            'objects': [{'id': i, 'label': k, 'first_seen': f,
                         'box': Box3D(k, np.array(c), np.array(s), y).to_dict()}
                        for i, (k, c, s, y, f) in enumerate(objs)]}


def projected_distance(a: Box3D, b: Box3D, iters: int = 3000) -> float:
    """Independent check: alternating projections between the two convex boxes."""
    def project(box, p):
        c, s = np.cos(box.yaw), np.sin(box.yaw)
        R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        local = np.clip(R.T @ (p - box.center), -box.size / 2, box.size / 2)
        return R @ local + box.center
    p = np.asarray(a.center, dtype=float)
    for _ in range(iters):
        q = project(b, p)
        p_new = project(a, q)
        if np.allclose(p_new, p, atol=1e-12, rtol=0):
            break
        p = p_new
    return float(np.linalg.norm(project(b, p) - p))


def test_box_distance_design_example():
    gt = SceneGT(hand_meta())
    d, pa, pb = boxgeom.box_distance(gt.one('sofa').box, gt.one('lamp').box)
    assert d == pytest.approx(np.hypot(1.5, 0.1), abs=1e-9)
    np.testing.assert_allclose(pa[:2], [2.4, 3.1])
    np.testing.assert_allclose(pb[:2], [3.9, 3.0])


@pytest.mark.parametrize('seed', range(3))
def test_box_distance_matches_alternating_projection(seed):
    rng = np.random.default_rng(seed)
    for _ in range(10):
        a, b = (Box3D('x', rng.uniform(-1, 1, 3) * [2, 2, 0.5], rng.uniform(0.2, 1.2, 3),
                      rng.uniform(-np.pi, np.pi)) for _ in range(2))
        assert boxgeom.box_distance(a, b)[0] == pytest.approx(projected_distance(a, b),
                                                              abs=1e-4)


@pytest.mark.parametrize('seed', range(6))
def test_templates_and_balance(seed):
    meta = layout_meta(seed)
    records = generate_qa(meta, np.random.default_rng(seed), 45)
    assert len(records) >= 30
    counts = {t: sum(r.type == t for r in records) for t in TEMPLATE_TYPES}
    for r in records:
        assert re.match(TEMPLATES[r.type], r.question), r.question
        if r.box is None and r.type == 'grounding_3d':  # an absent object: nothing to measure
            assert r.answer == f'There is no {r.question[13:].split("?")[0]} in this scene.'
            continue
        assert len(r.rationale) > 40 and re.search(r'\d', r.rationale)
        if r.type in CHOICE_TYPES:
            assert re.fullmatch(r'[A-D]', r.answer) and 3 <= len(r.options) <= 4
            assert all(o.startswith(f'{chr(65 + i)}. ') for i, o in enumerate(r.options))
    assert counts['room_size_estimation'] == 1  # one room: one question
    if len(SceneGT(meta).unique) >= 6:  # enough unique referents: round robin balances
        assert max(counts.values()) <= 7 and min(counts.values()) >= 1
    assert len({r.question for r in records}) == len(records)


def test_some_grounding_questions_ask_about_absent_objects():
    recs = [r for seed in range(6) for r in generate_qa(layout_meta(seed),
                                                          np.random.default_rng(seed), 60)
            if r.type == 'grounding_3d']
    absent = [r for r in recs if r.box is None]
    assert 0.1 < len(absent) / len(recs) < 0.45
    assert all(r.value is None and 'There is no' in r.answer for r in absent)


def test_all_types_over_scenes():
    types = set()
    for seed in range(6):
        types |= {r.type for r in generate_qa(layout_meta(seed), np.random.default_rng(0), 40)}
    assert types == set(TEMPLATE_TYPES)


def _opt(r: QARecord) -> str:
    return r.options[ord(r.answer) - 65].split('. ', 1)[1]


@pytest.mark.parametrize('seed', range(5))
def test_answers_match_geometry(seed):
    meta = layout_meta(seed)
    gt = SceneGT(meta)
    W, L, _ = meta['room']['size']
    for r in generate_qa(meta, np.random.default_rng(seed), 60):
        groups = re.match(TEMPLATES[r.type], r.question).groups()
        box = {k: gt.one(k).box for k in gt.unique}
        if r.type == 'object_count':
            assert r.value == sum(o['label'] == groups[0] for o in meta['objects'])
        elif r.type == 'object_abs_distance':
            assert r.value == pytest.approx(projected_distance(box[groups[0]], box[groups[1]]),
                                            abs=1e-3)
        elif r.type == 'object_size_estimation':
            assert r.value == pytest.approx(100 * max(box[groups[0]].size), abs=0.01)
        elif r.type == 'room_size_estimation':
            assert r.value == pytest.approx(W * L, abs=1e-3)
        elif r.type == 'object_rel_distance':
            cands = groups[0].split(', ')
            d = {k: min(boxgeom.box_distance(o.box, box[groups[1]])[0]
                        for o in gt.by_label[k]) for k in cands}
            assert _opt(r) == min(d, key=d.get)
        elif r.type == 'object_rel_direction':
            a, b, c = (box[k].center[:2] for k in groups)
            f, v = b - a, c - a
            ang = np.degrees(np.arccos(f @ v / np.linalg.norm(f) / np.linalg.norm(v)))
            side = 'left' if f[0] * v[1] - f[1] * v[0] > 0 else 'right'
            assert _opt(r) == ('back' if ang >= 135 else side)
        elif r.type == 'obj_appearance_order':
            first = {k: min(o['first_seen'] for o in meta['objects'] if o['label'] == k)
                     for k in groups[0].split(', ')}
            assert _opt(r).split(', ') == sorted(first, key=first.get)
        elif r.type == 'grounding_3d' and r.box is None:
            assert groups[0] not in {o['label'] for o in meta['objects']}
        elif r.type == 'grounding_3d':
            assert boxgeom.box_iou_3d(r.box, box[groups[0]]) > 0.999


def test_hand_scene_direction_and_route():
    gt_meta = hand_meta()
    gt = SceneGT(gt_meta)
    assert gt.unique == ['bed', 'lamp', 'sofa', 'tv'] and 'chair' not in gt.unique
    recs = generate_qa(gt_meta, np.random.default_rng(1), 200)
    for r in recs:
        if r.type == 'route_plan':
            a, b, _ = re.match(TEMPLATES['route_plan'], r.question).groups()
            stops = re.findall(r'Go forward until the (\w+)\.', r.question)
            pos = gt.one(a).box.center[:2]
            head = gt.one(b).box.center[:2] - pos
            turns = []
            for s in stops:
                leg = gt.one(s).box.center[:2] - pos
                ang = np.degrees(np.arctan2(head[0] * leg[1] - head[1] * leg[0], head @ leg))
                turns.append('turn back' if abs(ang) > 135 else
                             'turn left' if ang > 0 else 'turn right')
                pos, head = gt.one(s).box.center[:2], leg
            assert _opt(r) == ', '.join(turns)
    assert {r.type for r in recs} >= {'route_plan', 'object_rel_direction', 'grounding_3d'}


def test_qa_roundtrip_and_validation(tmp_path):
    recs = generate_qa(hand_meta(), np.random.default_rng(0), 20)
    path = save_qa(recs, tmp_path / 'a' / 'qa.jsonl')
    assert load_qa(path) == recs and load_qa(tmp_path) == recs
    bad = tmp_path / 'bad.jsonl'
    bad.write_text(recs[0].to_json() + '\n' + '{"scene": "s", "question": "q", '
                   '"type": "nonsense", "answer": "1"}\n')
    with pytest.raises(GeodeError, match=r'bad.jsonl:2: unknown QA type'):
        load_qa(bad)
    bad.write_text('{"scene": "s"\n')
    with pytest.raises(GeodeError, match=r':1: not valid JSON'):
        load_qa(bad)
    with pytest.raises(GeodeError, match='needs a numeric value'):
        QARecord('s', 'q', 'object_count', '3')
    with pytest.raises(GeodeError, match='needs options'):
        QARecord('s', 'q', 'route_plan', 'A')
    with pytest.raises(GeodeError, match='box size'):
        QARecord('s', 'q', 'grounding_3d', 'x', box={'center': [0, 0, 0], 'size': [1, 0, 1]})
