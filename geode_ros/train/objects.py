"""Object supervision: teach the DRM's object tokens what and where each proposal is.

Before the rationale steps of stage 1 the object head trains alone (the LLM is not run),
on batches of whole scenes: class cross-entropy and box L1 of every proposal against the
ground-truth object holding its points (``model/objects.assign_targets``). The same loss
then stays on, beside the rationale loss in stage 1 and the answer losses in stage 2, so
later stages cannot wash the objects out of the tokens.

``detection_ap`` measures what was learnt: the AP of the merged detections per class, the
ScanNet/VoteNet way (greedy matching by score at a 3D IoU threshold).
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np
import torch
from tqdm import tqdm

from geode_ros.data.qa import QARecord
from geode_ros.model.batch import prepare_batch
from geode_ros.model.objects import object_loss
from geode_ros.scene.boxgeom import box_iou_3d
from geode_ros.scene.types import Box3D
from geode_ros.train.scenes import SceneStore, scene_objects

log = logging.getLogger(__name__)


def _one_record_per_scene(records: list[QARecord]) -> list[QARecord]:
    seen: dict[str, QARecord] = {}
    for r in records:
        seen.setdefault(r.scene, r)
    return list(seen.values())


def pretrain_objects(model, store: SceneStore, records: list[QARecord], steps: int,
                     scenes_per_step: int, lr: float, seed: int = 0, progress: bool = True,
                     nocolor: SceneStore | None = None, nocolor_share: float = 0.0
                     ) -> list[float]:
    """``steps`` AdamW steps of the object loss alone; returns the loss per step. A
    ``nocolor_share`` of the scenes comes from ``nocolor`` (the same scenes replayed as
    point clouds without colour), so the detector also learns what geometry alone says."""
    enc = model.drm.objects
    if enc is None or steps <= 0:
        return []
    per_scene = _one_record_per_scene(records)
    params = [p for p in enc.parameters()]
    for p in params:
        p.requires_grad_(True)
    optim = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, lr, total_steps=steps, pct_start=0.1)
    rng = np.random.default_rng(seed)
    oc = model.config.objects
    losses = []
    model.train()
    for step in tqdm(range(steps), desc='objects', unit='step', disable=not progress):
        pick = rng.choice(len(per_scene), min(scenes_per_step, len(per_scene)), replace=False)
        grey = rng.random(len(pick)) < nocolor_share if nocolor is not None else [False] * len(
            pick)
        samples = [(nocolor if g else store).sample(per_scene[i]) for i, g in zip(pick, grey)]
        batch = prepare_batch(model, samples, stage=2, train=False, seed=step
                              ).to(model.device)
        o = batch.objects
        _, logits, deltas = enc(o.geometry, o.points, o.boxes, o.mask, batch.scene_center,
                                batch.patch_feats, batch.patch_xyz, batch.patch_mask)
        ce, box = object_loss(oc, logits, deltas, o.boxes, o.mask, o.target_cls, o.target_box)
        loss = oc.class_loss_weight * ce + oc.box_loss_weight * box
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optim.step()
        sched.step()
        losses.append(float(loss.detach()))
    return losses


def average_precision(scores: list[float], hits: list[bool], n_gt: int) -> float:
    """Area under the interpolated precision-recall curve (all points)."""
    if n_gt == 0:
        return float('nan')
    order = np.argsort(-np.asarray(scores), kind='stable')
    tp = np.asarray(hits, dtype=float)[order]
    if tp.size == 0:
        return 0.0
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    recall, precision = ctp / n_gt, ctp / np.maximum(ctp + cfp, 1e-9)
    mrec = np.r_[0.0, recall, 1.0]
    mpre = np.r_[0.0, precision, 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def match_scene(dets: list, gts: list[Box3D], iou: float = 0.25) -> list[tuple[str, float, bool]]:
    """(label, score, hit) per detection of one scene: greedily by score, a detection hits
    the unmatched ground-truth object of its class it overlaps most at >= ``iou`` (3D IoU);
    a second detection of a matched object is a false positive."""
    used: set[int] = set()
    out = []
    for d in sorted(dets, key=lambda d: -d.score):
        best, best_iou = None, iou
        for j, g in enumerate(gts):
            if j in used or g.label != d.label:
                continue
            v = box_iou_3d(d.as_box3d(), g)
            if v >= best_iou:
                best, best_iou = j, v
        if best is not None:
            used.add(best)
        out.append((d.label, float(d.score), best is not None))
    return out


def detection_ap(detections: list[list], ground_truth: list[list[Box3D]], iou: float = 0.25
                 ) -> dict[str, float]:
    """Per-class AP at ``iou`` over scenes, and their mean as ``mAP``."""
    scores, hits, n_gt = defaultdict(list), defaultdict(list), defaultdict(int)
    for dets, gts in zip(detections, ground_truth):
        for g in gts:
            n_gt[g.label] += 1
        for label, score, hit in match_scene(dets, gts, iou):
            scores[label].append(score)
            hits[label].append(hit)
    ap = {c: average_precision(scores[c], hits[c], n) for c, n in n_gt.items()}
    out = {c: 100.0 * v for c, v in sorted(ap.items())}
    out['mAP'] = float(np.nanmean(list(out.values()))) if out else float('nan')
    return out


@torch.no_grad()
def evaluate_detection(model, store: SceneStore, records: list[QARecord], iou: float = 0.25,
                       scenes_per_batch: int = 8) -> dict[str, float]:
    """``detection_ap`` of the model's merged detections on the scenes of ``records``."""
    if model.drm.objects is None:
        return {}
    per_scene = _one_record_per_scene(records)
    dets, gts = [], []
    was = model.training
    model.eval()
    for i in range(0, len(per_scene), scenes_per_batch):
        chunk = per_scene[i:i + scenes_per_batch]
        samples = [store.sample(r) for r in chunk]
        batch = prepare_batch(model, samples, stage=2, train=False, seed=i).to(model.device)
        dets += model.detect(batch)
        gts += [scene_objects(store.root / r.scene) or [] for r in chunk]
    model.train(was)
    return detection_ap(dets, gts, iou)
