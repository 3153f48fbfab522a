"""VSI-Bench metrics against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geode_ros.data.metrics import (
    MRA_THRESHOLDS,
    aggregate,
    baseline_scores,
    mean_relative_accuracy,
    parse_choice,
    parse_number,
    score_all,
    score_record,
)
from geode_ros.data.qa import QARecord
from geode_ros.scene.boxgeom import box_iou_3d, clip_polygon, footprint, polygon_area
from geode_ros.scene.types import Answer, Box3D


def test_thresholds():
    np.testing.assert_allclose(MRA_THRESHOLDS, np.arange(10) * 0.05 + 0.5)


@pytest.mark.parametrize('pred, gt, want', [
    (1.0, 1.0, 1.0),
    (1.1, 1.0, 0.9),    # rel 0.10 passes theta 0.50..0.90 (inclusive boundary)
    (0.9, 1.0, 0.9),
    (1.05, 1.0, 1.0),   # rel 0.05 passes every theta up to 0.95
    (1.5, 1.0, 0.1),    # only theta 0.50
    (1.3, 1.0, 0.5),    # theta 0.50..0.70
    (2.0, 1.0, 0.0),
    (-1.0, 1.0, 0.0),
    (12.0, 10.0, 0.7),  # rel 0.2: theta 0.50..0.80
    (float('nan'), 1.0, 0.0),
])
def test_mra(pred, gt, want):
    assert mean_relative_accuracy(pred, gt) == pytest.approx(want)


def test_parse_number_and_choice():
    assert parse_number('1.5') == 1.5 and parse_number('about 1,200 cm') == 1200.0
    assert parse_number('It is three.') == 3.0 and parse_number(' .5 m') == 0.5
    assert parse_number('no idea') is None and parse_number(None) is None
    opts = ['A. sofa', 'B. lamp', 'C. bed']
    for text, want in [('B', 'B'), ('B.', 'B'), ('(C) bed', 'C'), ('Answer: A', 'A'),
                       ('The answer is C.', 'C'), ('lamp', 'B'), ('a lamp', 'B'),
                       ('D', None), ('sofa or lamp', None), ('', None), (3, None)]:
        assert parse_choice(text, opts) == want, text


def _box(c, s, yaw=0.0):
    return Box3D('b', np.asarray(c, float), np.asarray(s, float), yaw)


def test_iou_known_boxes():
    a = _box([0, 0, 0], [2, 2, 2])
    assert box_iou_3d(a, a) == pytest.approx(1.0)
    assert box_iou_3d(a, _box([1, 0, 0], [2, 2, 2])) == pytest.approx(4 / 12)
    assert box_iou_3d(a, _box([1, 1, 1], [2, 2, 2])) == pytest.approx(1 / 15)
    assert box_iou_3d(a, _box([3, 0, 0], [2, 2, 2])) == 0.0
    assert box_iou_3d(a, _box([0, 0, 2.5], [2, 2, 2])) == 0.0
    assert box_iou_3d(a, _box([0, 0, 0], [1, 1, 1])) == pytest.approx(1 / 8)
    # yaw 90 deg of a 2 x 1 box is the same volume as the 1 x 2 box
    assert box_iou_3d(_box([0, 0, 0], [2, 1, 1], np.pi / 2), _box([0, 0, 0], [1, 2, 1])) \
        == pytest.approx(1.0)


def test_iou_rotated_45():
    # unit square vs itself turned 45 deg: the overlap is a regular octagon of area 2(sqrt2 - 1)
    inter = 2 * (np.sqrt(2) - 1)
    got = box_iou_3d(_box([0, 0, 0], [1, 1, 1]), _box([0, 0, 0], [1, 1, 1], np.pi / 4))
    assert got == pytest.approx(inter / (2 - inter))
    assert box_iou_3d({'center': [0, 0, 0], 'size': [1, 1, 1], 'yaw': np.pi / 4},
                      {'center': [0, 0, 0.5], 'size': [1, 1, 1], 'yaw': 0.0}) \
        == pytest.approx(inter * 0.5 / (2 - inter * 0.5))


@settings(max_examples=40, deadline=None)
@given(st.floats(-np.pi, np.pi), st.floats(-1, 1), st.floats(-1, 1), st.floats(0.2, 2))
def test_iou_matches_monte_carlo(yaw, x, y, s):
    a, b = _box([0, 0, 0], [1.5, 0.8, 1]), _box([x, y, 0.2], [s, 1.0, 1], yaw)
    area = polygon_area(clip_polygon(footprint(a), footprint(b)))
    pts = np.random.default_rng(0).uniform(-1, 1, (20000, 2)) * [0.75, 0.4]
    c, sn = np.cos(yaw), np.sin(yaw)
    d = pts - [x, y]
    inside = (np.abs(c * d[:, 0] + sn * d[:, 1]) <= s / 2) & \
        (np.abs(-sn * d[:, 0] + c * d[:, 1]) <= 0.5)
    assert area == pytest.approx(inside.mean() * 1.2, abs=0.03)
    iou = box_iou_3d(a, b)
    assert iou == pytest.approx(box_iou_3d(b, a)) and 0.0 <= iou <= 1.0


def _rec(qtype, answer, value=None, options=None, box=None):
    return QARecord('s', 'q', qtype, answer, value, options, box, '')


def test_score_record_all_kinds():
    num = _rec('object_abs_distance', '1.0', 1.0)
    assert score_record(num, '1.1 meters') == pytest.approx(0.9)
    assert score_record(num, 'far away') == 0.0
    assert score_record(num, Answer('whatever', values=[1.0])) == 1.0
    mc = _rec('object_rel_direction', 'B', options=['A. left', 'B. right', 'C. back'])
    assert score_record(mc, 'B') == 1.0 and score_record(mc, 'right') == 1.0
    assert score_record(mc, 'A') == 0.0 and score_record(mc, '???') == 0.0
    gbox = {'label': 'sofa', 'center': [0.0, 0.0, 0.0], 'size': [2.0, 2.0, 2.0], 'yaw': 0.0}
    g = _rec('grounding_3d', 'x', box=gbox)
    assert score_record(g, Box3D.from_dict(gbox)) == pytest.approx(1.0)
    assert score_record(g, dict(gbox, center=[1.0, 0.0, 0.0])) == pytest.approx(1 / 3)
    assert score_record(g, Answer('x', boxes=[_box([1, 1, 1], [2, 2, 2])])) \
        == pytest.approx(1 / 15)
    assert score_record(g, 'somewhere') == 0.0


def test_aggregate_percent_and_ap():
    agg = aggregate({'object_count': [1.0, 0.5], 'route_plan': [1.0, 0.0, 0.0, 1.0],
                     'grounding_3d': [0.6, 0.3, 0.1, 0.25]})
    assert agg['object_count'] == pytest.approx(75.0)
    assert agg['route_plan'] == pytest.approx(50.0)
    assert agg['grounding_3d_AP@0.25'] == pytest.approx(75.0)
    assert agg['grounding_3d_AP@0.5'] == pytest.approx(25.0)
    assert agg['overall'] == pytest.approx(62.5)  # grounding is not a VSI-Bench task


def test_baselines():
    train = [_rec('room_size_estimation', str(v), float(v)) for v in (10.0, 20.0, 30.0)]
    gbox = {'label': 'tv', 'center': [1.0, 1.0, 1.0], 'size': [1.0, 0.1, 0.6], 'yaw': 0.0}
    train.append(_rec('grounding_3d', 'x', box=gbox))
    test = [_rec('room_size_estimation', '20', 20.0), _rec('room_size_estimation', '40', 40.0),
            _rec('object_rel_direction', 'A', options=['A. left', 'B. right', 'C. back']),
            _rec('route_plan', 'A', options=['A. a', 'B. b', 'C. c', 'D. d']),
            _rec('grounding_3d', 'x', box=gbox)]
    out = baseline_scores(train, test)
    assert out['room_size_estimation'] == pytest.approx(55.0)  # MRA 1.0 and 0.1 (rel 0.5)
    assert out['object_rel_direction'] == pytest.approx(100 / 3)
    assert out['route_plan'] == pytest.approx(25.0)
    assert out['grounding_3d_AP@0.5'] == pytest.approx(100.0)
    scores = score_all(test[:2], ['20', 'twenty'])
    assert scores == {'room_size_estimation': [1.0, pytest.approx(0.1)]}
