"""Object tokens: targets, box coding, merging of fragments, detection AP."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from room_clouds import room_cloud

from geode_ros.model.config import ObjectConfig
from geode_ros.model.objects import (
    Detection,
    assign_targets,
    canonical_yaw,
    decode_boxes,
    merge_detections,
    object_loss,
)
from geode_ros.query.program import QueryError
from geode_ros.scene.boxgeom import box_iou_3d
from geode_ros.scene.proposals import propose_objects
from geode_ros.scene.types import Box3D
from geode_ros.train.objects import average_precision, detection_ap


def _b(box) -> Box3D:
    return Box3D('', np.asarray(box[:3]), np.asarray(box[3:6]), float(box[6]))


@pytest.mark.parametrize('yaw,ref', [(0.0, 1.4), (0.3, -2.0), (2.0, 0.1), (-1.2, 3.0)])
def test_canonical_yaw_is_the_same_box_near_the_reference(yaw, ref):
    box = np.array([1.0, 2.0, 0.5, 1.2, 0.4, 0.8, yaw])
    c = canonical_yaw(box, ref)
    assert abs(c[6] - ref) <= math.pi / 4 + 1e-9
    assert box_iou_3d(_b(box), _b(c)) == pytest.approx(1.0, abs=1e-6)


def test_a_perfect_prediction_has_zero_box_loss_and_decodes_to_the_target():
    props = torch.tensor([[[1.0, 1.0, 0.5, 0.4, 0.3, 0.6, 0.1]]])
    target = torch.tensor([[[1.1, 0.9, 0.45, 0.5, 0.35, 0.9, 0.3]]])
    scale = 0.6
    deltas = torch.cat([(target[..., :3] - props[..., :3]) / scale,
                        torch.log(target[..., 3:6] / props[..., 3:6]),
                        torch.atanh((target[..., 6:] - props[..., 6:]) / (math.pi / 4))], -1)
    assert decode_boxes(props, deltas) == pytest.approx(target, abs=1e-5)
    logits = torch.tensor([[[5.0, -5.0, -5.0]]])
    ce, box = object_loss(ObjectConfig(classes=('a', 'b')), logits, deltas, props,
                          torch.ones(1, 1, dtype=torch.bool), torch.tensor([[0]]), target)
    assert float(box) == pytest.approx(0.0, abs=1e-6) and float(ce) < 1e-3


def test_targets_follow_the_object_holding_the_points():
    pts, cols, _ = room_cloud()
    props = propose_objects(pts, cols)
    gt = [Box3D('table', np.array([1.5, 1.3, 0.4]), np.array([1.0, 0.6, 0.8]), 0.0),
          Box3D('mug', np.array([1.5, 1.3, 0.85]), np.array([0.1, 0.1, 0.1]), 0.0)]
    cls, box = assign_targets(props, gt, ('mug', 'table'))
    # mug, table, background (the box on the floor); a fragment of the mug or the table
    # (proposals of several segmentations) has its object's target too
    assert set(cls.tolist()) == {0, 1, 2} and (cls == 2).sum() == 1
    for mug in np.flatnonzero(cls == 0):
        assert box[mug, :3] == pytest.approx([1.5, 1.3, 0.85])
    assert np.isnan(box[cls == 2]).all()


def test_fragments_of_one_object_merge_and_two_objects_stay_two():
    classes = ('lamp', 'chair')
    probs = np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.1, 0.85, 0.05],
                      [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    boxes = np.array([[1.0, 1.0, 0.8, 0.4, 0.4, 1.6, 0.0],  # lamp (shade's prediction)
                      [1.02, 1.0, 0.8, 0.35, 0.35, 1.6, 0.0],  # lamp (stem's prediction)
                      [3.0, 1.0, 0.45, 0.5, 0.5, 0.9, 0.0],  # chair 1
                      [3.0, 2.5, 0.45, 0.5, 0.5, 0.9, 0.0],  # chair 2
                      [2.0, 2.0, 0.5, 1.0, 1.0, 1.0, 0.0]])  # background
    dets = merge_detections(classes, probs, boxes, np.array([3.0, 1.0, 2.0, 5.0, 0.0]),
                            ObjectConfig(classes=classes))
    assert sorted(d.label for d in dets) == ['chair', 'chair', 'lamp']
    lamp = next(d for d in dets if d.label == 'lamp')
    assert lamp.score == pytest.approx(0.9) and lamp.first_seen == 1.0


def test_detection_ap():
    gt = [[Box3D('mug', np.zeros(3), np.ones(3))], [Box3D('mug', np.ones(3) * 5, np.ones(3))]]
    right = Detection('mug', 0.9, np.r_[np.zeros(3), np.ones(3), 0.0], 0.0)
    wrong = Detection('mug', 0.95, np.r_[np.ones(3) * 9, np.ones(3), 0.0], 0.0)
    assert detection_ap([[right], []], gt)['mug'] == pytest.approx(50.0)
    # a confident false positive ranked first halves the precision at the first recall
    assert detection_ap([[right, wrong], []], gt)['mug'] == pytest.approx(25.0)
    assert average_precision([], [], 3) == 0.0


def test_a_trained_object_head_grounds_counts_and_says_not_found(make_model):
    """End to end on one scene: train the object tokens on its proposals, then the model
    answers from its own detections (box of the selected object, count, absent object)."""
    from geode_ros.model.batch import GeodeSample, prepare_batch
    from geode_ros.scene.types import SceneSnapshot

    classes = ('box', 'mug', 'table')
    cfg = ObjectConfig(classes=classes)
    m = make_model('qwen2_vl', objects=cfg)
    m.drm.objects = type(m.drm.objects)(cfg, m.config.drm, m.adapter.hidden_size)
    pts, cols, _ = room_cloud()
    snap = SceneSnapshot(pts, cols, [], 'map', 1.0)
    props = m.scene_proposals(snap)
    gt = [Box3D('table', np.array([1.5, 1.3, 0.4]), np.array([1.05, 0.65, 0.8]), 0.0),
          Box3D('mug', np.array([1.5, 1.3, 0.85]), np.array([0.15, 0.15, 0.15]), 0.0),
          Box3D('box', np.array([3.2, 2.2, 0.225]), np.array([0.45, 0.45, 0.45]), 0.0)]
    sample = GeodeSample('Where is the mug?', pts, cols, [], qtype='grounding_3d',
                         proposals=props, object_targets=assign_targets(props, gt, classes))
    batch = prepare_batch(m, [sample], stage=2, train=False, seed=0)
    enc = m.drm.objects
    opt = torch.optim.Adam(enc.parameters(), lr=3e-3)
    m.train()
    for _ in range(200):
        o = batch.objects
        _, logits, deltas = enc(o.geometry, o.points, o.boxes, o.mask, batch.scene_center,
                                batch.patch_feats, batch.patch_xyz, batch.patch_mask)
        ce, box = object_loss(cfg, logits, deltas, o.boxes, o.mask, o.target_cls, o.target_box)
        opt.zero_grad()
        (ce + box).backward()
        opt.step()
    m.eval()
    mug = m.answer('Where is the mug? Give its 3D bounding box.', snap)
    assert len(mug.boxes) == 1 and mug.boxes[0].label == 'mug'
    assert box_iou_3d(mug.boxes[0], gt[1]) > 0.5 and 0.5 <= mug.boxes[0].score <= 1.0
    on_floor = m.answer('Where is the box? Give its 3D bounding box.', snap)
    assert box_iou_3d(on_floor.boxes[0], gt[2]) > 0.5
    count = m.answer('How many table(s) are in this room?', snap)
    assert count.values == [1.0] and count.text == 'I see 1 table.'
    assert m.answer('is there a desk?', snap).values == [1.0]  # a synonym of table
    with pytest.raises(QueryError, match='"lamp" is not a category this model knows'):
        m.answer('Where is the lamp? Give its 3D bounding box.', snap)
