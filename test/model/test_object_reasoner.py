"""Answers from detections: with ground-truth detections every generated question is
answered exactly as the generator's own geometry does (an oracle check of the reasoner)."""

from __future__ import annotations

import numpy as np
import pytest

from geode_ros.data.metrics import score_key, score_record
from geode_ros.data.qa_gen import generate_qa
from geode_ros.data.scene_layout import CLASSES, generate_layout
from geode_ros.model.object_reasoner import mentions, reason
from geode_ros.model.objects import Detection
from geode_ros.scene.types import Answer, Box3D
from geode_ros.train.scenes import question_with_options


def _meta(seed: int) -> dict:
    room = generate_layout(np.random.default_rng(seed))
    W, L, H = room.size
    return {'scene': f'scenes/{seed:06d}', 'room': {'size': [W, L, H], 'area': W * L},
            'objects': [{'id': o.id, 'label': o.label, 'first_seen': o.id,
                         'box': o.box().to_dict()} for o in room.objects]}


def _detections(meta: dict) -> list[Detection]:
    return [Detection(o['label'], 1.0, np.r_[o['box']['center'], o['box']['size'],
                                            o['box']['yaw']], float(o['first_seen']))
            for o in meta['objects']]


@pytest.mark.parametrize('seed', range(6))
def test_ground_truth_detections_answer_every_question_exactly(seed):
    meta = _meta(seed)
    dets, area = _detections(meta), meta['room']['area']
    records = generate_qa(meta, np.random.default_rng(seed), 60)
    assert len({score_key(r) for r in records}) >= 8
    for r in records:
        ans = reason(question_with_options(r), r.type, dets, CLASSES, area)
        assert ans is not None, r.question
        boxes = [Box3D('', np.asarray(b[:3]), np.asarray(b[3:6]), b[6]) for b in ans.boxes]
        score = score_record(r, Answer(ans.text, ans.values, boxes))
        assert score == pytest.approx(1.0, abs=1e-4), (r.question, r.answer, ans.text)


def test_missing_objects_defer_to_the_llm_but_grounding_says_not_found():
    dets = [Detection('sofa', 0.9, np.array([1.0, 1.0, 0.4, 2.0, 0.9, 0.8, 0.0]), 0.0)]
    q = ('Measuring from the closest point of each object, what is the direct distance '
         'between the sofa and the lamp (in meters)?')
    assert reason(q, 'object_abs_distance', dets, CLASSES, 20.0) is None
    absent = reason('Where is the lamp? Give its 3D bounding box.', 'grounding_3d', dets,
                    CLASSES, 20.0)
    assert absent.boxes == [] and 'No lamp found' in absent.text
    unknown = reason('Where is the microwave?', 'grounding_3d', dets, CLASSES, 20.0)
    assert unknown.boxes == [] and 'not a category this model knows' in unknown.text
    found = reason('Where is the sofa?', 'grounding_3d', dets, CLASSES, 20.0)
    assert found.boxes[0] == pytest.approx([1.0, 1.0, 0.4, 2.0, 0.9, 0.8, 0.0])


def test_two_pairs_give_two_distances():
    dets = [Detection('sofa', 0.9, np.array([1.0, 1.0, 0.4, 2.0, 0.9, 0.8, 0.0]), 0.0),
            Detection('lamp', 0.9, np.array([4.0, 1.0, 0.8, 0.3, 0.3, 1.6, 0.0]), 1.0),
            Detection('tv', 0.9, np.array([1.0, 4.0, 1.0, 1.0, 0.1, 0.6, 0.0]), 2.0)]
    q = ('Measuring from the closest point of each object, what is the direct distance '
         'between the {} and the {} (in meters)?')
    a = reason(q.format('sofa', 'lamp'), 'object_abs_distance', dets, CLASSES, 20.0).values[0]
    b = reason(q.format('sofa', 'tv'), 'object_abs_distance', dets, CLASSES, 20.0).values[0]
    assert a == pytest.approx(4.0 - 0.15 - 2.0, abs=1e-6)
    assert b == pytest.approx(4.0 - 0.05 - 1.0 - 0.45, abs=1e-6)


def test_mentions_in_order_longest_first_and_plural():
    text = 'How many chair(s) are near the trash can, the tables and the box?'
    assert mentions(text, CLASSES) == ['chair', 'trash can', 'table', 'box']
    assert mentions('the boxes', CLASSES) == ['box']
    assert mentions('a sofabed', CLASSES) == []
