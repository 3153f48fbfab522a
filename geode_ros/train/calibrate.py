"""Detection scores that mean something: calibration on validation scenes.

A detector trained with cross-entropy on flat-coloured rooms is over-confident on what it
has never seen (real fragments got scores of 0.9-1.0 whatever they were). Three choices,
all made on validation data and written into the model's ``ObjectConfig``:

- ``temperature``: class logits are divided by T before the softmax; T minimises the
  cross-entropy of every validation proposal against its target (an object class or
  background), the standard temperature scaling of Guo et al. 2017.
- ``score_calibration``: a detection is right less often than its class probability says
  (a fragment's box can miss, two fragments can both report one object), so the merged
  detections' scores get Platt scaling, sigmoid(a logit(p) + b), fitted to whether each
  validation detection was right: a score of 0.8 then means right about 80 % of the time.
- ``score_threshold``: the detection score of best F1 (true positive = the right class at
  3D IoU >= 0.25, each object matched once), or with ``precision`` > 0 the lowest score
  at which the detections reach it. Answers need recall as much as precision (a count or
  a distance of a missed object is wrong too): on validation, F1 gave the best answers.
- ``confident_score``: the lowest score above which detections reach
  ``confident_precision``; answers built on detections below it say they are unsure.

``detection_report`` measures the result on any scenes: precision, recall and false
positives per scene at the model's threshold, AP, and a reliability table (how often a
detection scoring in each bin is right).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize, minimize_scalar

from geode_ros.data.qa import QARecord
from geode_ros.model.batch import prepare_batch
from geode_ros.model.objects import calibrated
from geode_ros.train.objects import detection_ap, match_scene
from geode_ros.train.scenes import SceneStore, scene_objects

log = logging.getLogger(__name__)

SCORE_FLOOR = 0.05  # detections are collected down to this score, then thresholded
RELIABILITY_BINS = (0.05, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0001)
MAX_TEMPERATURE = 20.0
THRESHOLD_FLOOR = 0.1  # thresholds are chosen at or above this (calibrated) score
# share of the recall at the floor score that a chosen threshold must keep (the shipped
# threshold, the confident score): a threshold keeping a few lucky detections is no choice
MIN_RECALL_SHARE = (0.5, 0.2)


@dataclass
class Scored:
    """Every detection of a set of scenes (merged at ``SCORE_FLOOR``) with its match."""

    labels: np.ndarray  # [D] str
    scores: np.ndarray  # [D]
    hits: np.ndarray  # [D] bool
    n_gt: int
    n_scenes: int

    def at(self, threshold: float) -> dict[str, float]:
        keep = self.scores >= threshold
        tp, fp = int(self.hits[keep].sum()), int((~self.hits[keep]).sum())
        return {'threshold': float(threshold), 'detections': tp + fp, 'tp': tp, 'fp': fp,
                'precision': tp / max(tp + fp, 1), 'recall': tp / max(self.n_gt, 1),
                'fp_per_scene': fp / max(self.n_scenes, 1)}


def scenes_of(records: list[QARecord]) -> list[str]:
    """The distinct scenes of ``records``, in order."""
    return list(dict.fromkeys(r.scene for r in records))


@torch.no_grad()
def _scenes(model, store: SceneStore, scenes: list[str], scenes_per_batch: int = 8):
    """Yield (batch, encoding, ground truth per row) over ``scenes`` (names under the
    store's root)."""
    for i in range(0, len(scenes), scenes_per_batch):
        chunk = scenes[i:i + scenes_per_batch]
        batch = prepare_batch(model, [store.scene_sample(s) for s in chunk], stage=2,
                              train=False, seed=i).to(model.device)
        yield batch, model.encode_scene(batch), [scene_objects(store.root / s) or []
                                                 for s in chunk]


def proposal_logits(model, store: SceneStore, scenes: list[str]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Class logits [N, C+1] and targets [N] of every proposal with a target."""
    logits, targets = [], []
    for batch, enc, _ in _scenes(model, store, scenes):
        o = batch.objects
        if enc.object_logits is None or o.target_cls is None:
            continue
        sel = o.mask & (o.target_cls >= 0)
        logits.append(enc.object_logits[sel].float().cpu().numpy())
        targets.append(o.target_cls[sel].cpu().numpy())
    if not logits:
        return np.zeros((0, 1), np.float32), np.zeros(0, np.int64)
    return np.concatenate(logits), np.concatenate(targets)


def fit_platt(scores: np.ndarray, hits: np.ndarray) -> tuple[float, float]:
    """(a, b) maximising the likelihood of ``hits`` under sigmoid(a logit(score) + b),
    a > 0 so the order of detections is kept; (1, 0) with too few of either outcome."""
    hits = np.asarray(hits, bool)
    if hits.sum() < 3 or (~hits).sum() < 3:
        return 1.0, 0.0
    x = torch.from_numpy(np.log(np.clip(scores, 1e-6, 1 - 1e-6) / np.clip(1 - scores, 1e-6,
                                                                          1)))
    y = torch.from_numpy(hits.astype(np.float64))

    def nll(v: np.ndarray) -> float:
        return float(torch.nn.functional.binary_cross_entropy_with_logits(
            np.exp(v[0]) * x + float(v[1]), y))

    res = minimize(nll, np.zeros(2), method='Nelder-Mead', options={'xatol': 1e-4,
                                                                    'fatol': 1e-7})
    return float(np.exp(res.x[0])), float(res.x[1])


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The T in [1/MAX, MAX] minimising the mean cross-entropy of softmax(logits / T)."""
    if len(targets) == 0:
        return 1.0
    lg = torch.from_numpy(np.asarray(logits, np.float64))
    tg = torch.from_numpy(np.asarray(targets, np.int64))

    def nll(log_t: float) -> float:
        return float(torch.nn.functional.cross_entropy(lg / np.exp(log_t), tg))

    bound = np.log(MAX_TEMPERATURE)
    res = minimize_scalar(nll, bounds=(-bound, bound), method='bounded',
                          options={'xatol': 1e-3})
    return float(np.exp(res.x))


def score_detections(model, store: SceneStore, scenes: list[str], iou: float = 0.25
                     ) -> tuple[Scored, list[list], list[list]]:
    """Detections of ``scenes`` at ``SCORE_FLOOR``, matched to the ground truth; also the
    detections and ground truth per scene (for AP)."""
    oc = model.config.objects
    threshold, oc.score_threshold = oc.score_threshold, SCORE_FLOOR
    labels, scores, hits, dets_all, gts_all = [], [], [], [], []
    try:
        for batch, enc, gts in _scenes(model, store, scenes):
            for dets, gt in zip(model.detect(batch, enc), gts):
                dets_all.append(dets)
                gts_all.append(gt)
                for label, score, hit in match_scene(dets, gt, iou):
                    labels.append(label)
                    scores.append(score)
                    hits.append(hit)
    finally:
        oc.score_threshold = threshold
    scored = Scored(np.asarray(labels, dtype=object), np.asarray(scores, np.float64),
                    np.asarray(hits, bool), sum(len(g) for g in gts_all), len(gts_all))
    return scored, dets_all, gts_all


def choose_threshold(scored: Scored, precision: float, floor: float = 0.3,
                     min_recall_share: float = 0.5, fallback: str = 'f1') -> float:
    """The lowest score >= ``floor`` whose detections reach ``precision`` while still
    finding ``min_recall_share`` of the recall at ``floor`` (a threshold that keeps one
    lucky detection is no choice); when none does, the score of best F0.5 (``fallback``
    'f1': precision weighted twice) or of best precision ('precision')."""
    cands = np.unique(np.r_[floor, scored.scores[scored.scores >= floor]])
    rows = [scored.at(t) for t in cands]
    if not rows:
        return floor
    need = min_recall_share * rows[0]['recall']
    ok = [r for r in rows if r['precision'] >= precision and r['tp'] > 0
          and r['recall'] >= need]
    if ok:
        return min(r['threshold'] for r in ok)
    if fallback == 'precision':
        best = [r['precision'] if r['recall'] >= need and r['tp'] > 0 else -1.0 for r in rows]
    else:
        best = [1.25 * r['precision'] * r['recall'] / max(0.25 * r['precision'] + r['recall'],
                                                          1e-9) for r in rows]
    return float(cands[int(np.argmax(best))])


def reliability(scored: Scored, bins: tuple[float, ...] = RELIABILITY_BINS) -> list[dict]:
    """Per score bin: detections, mean score and how many were right (precision)."""
    out = []
    for lo, hi in zip(bins[:-1], bins[1:]):
        sel = (scored.scores >= lo) & (scored.scores < hi)
        if sel.any():
            out.append({'bin': [lo, min(hi, 1.0)], 'n': int(sel.sum()),
                        'mean_score': float(scored.scores[sel].mean()),
                        'precision': float(scored.hits[sel].mean())})
    return out


def expected_calibration_error(scored: Scored) -> float:
    """Mean |score - precision| over the reliability bins, weighted by detections."""
    rows = reliability(scored)
    n = sum(r['n'] for r in rows)
    return sum(r['n'] * abs(r['mean_score'] - r['precision']) for r in rows) / max(n, 1)


def detection_report(model, store: SceneStore, scenes: list[str], iou: float = 0.25) -> dict:
    """Detection quality of the model as shipped (its threshold, temperature) on scenes."""
    scored, dets, gts = score_detections(model, store, scenes, iou)
    oc = model.config.objects
    shipped = [[d for d in ds if d.score >= oc.score_threshold] for ds in dets]
    ap = detection_ap(shipped, gts, iou)
    confident = scored.at(max(oc.confident_score, oc.score_threshold))
    return {'at_threshold': scored.at(oc.score_threshold), 'confident': confident,
            'mAP@0.25': ap.get('mAP', float('nan')), 'AP@0.25': ap,
            'reliability': reliability(scored), 'ece': expected_calibration_error(scored),
            'temperature': oc.temperature, 'score_calibration': list(oc.score_calibration),
            'score_threshold': oc.score_threshold,
            'confident_score': oc.confident_score}


def best_f1(scored: Scored, floor: float = THRESHOLD_FLOOR) -> float:
    """The detection score at or above ``floor`` whose detections have the best F1."""
    cands = np.unique(np.r_[floor, scored.scores[scored.scores >= floor]])
    f1 = [2 * r['precision'] * r['recall'] / max(r['precision'] + r['recall'], 1e-9)
          for r in (scored.at(t) for t in cands)]
    return float(cands[int(np.argmax(f1))])


def calibrate(model, store: SceneStore, scenes: list[str], precision: float = 0.0,
              confident_precision: float = 0.85) -> dict:
    """Fit the temperature, then choose ``score_threshold`` and ``confident_score`` on
    ``scenes`` (validation data); set them on ``model.config.objects``."""
    oc = model.config.objects
    if model.drm.objects is None:
        return {}
    was = model.training
    model.eval()
    logits, targets = proposal_logits(model, store, scenes)
    oc.temperature, oc.score_calibration = 1.0, (1.0, 0.0)
    nll_before = _nll(logits, targets, 1.0)
    oc.temperature = fit_temperature(logits, targets)
    scored, _, _ = score_detections(model, store, scenes)
    ece_before = expected_calibration_error(scored)
    oc.score_calibration = fit_platt(scored.scores, scored.hits)
    scored.scores = calibrated(scored.scores, oc.score_calibration)
    oc.score_threshold = (choose_threshold(scored, precision, THRESHOLD_FLOOR,
                                           min_recall_share=MIN_RECALL_SHARE[0])
                          if precision > 0 else best_f1(scored))
    oc.confident_score = max(choose_threshold(scored, confident_precision, THRESHOLD_FLOOR,
                                              min_recall_share=MIN_RECALL_SHARE[1],
                                              fallback='precision'), oc.score_threshold)
    model.train(was)
    report = {'temperature': oc.temperature, 'score_threshold': oc.score_threshold,
              'confident_score': oc.confident_score, 'proposals': int(len(targets)),
              'nll_before': nll_before, 'nll_after': _nll(logits, targets, oc.temperature),
              'score_calibration': list(oc.score_calibration), 'ece_before': ece_before,
              'at_threshold': scored.at(oc.score_threshold),
              'confident': scored.at(oc.confident_score),
              'ece': expected_calibration_error(scored)}
    log.info('calibrated on %d scenes: temperature %.2f, score_threshold %.2f (precision %.2f, '
             'recall %.2f), confident_score %.2f', scored.n_scenes, oc.temperature,
             oc.score_threshold, report['at_threshold']['precision'],
             report['at_threshold']['recall'], oc.confident_score)
    return report


def _nll(logits: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    if len(targets) == 0:
        return float('nan')
    return float(torch.nn.functional.cross_entropy(
        torch.from_numpy(np.asarray(logits, np.float64)) / temperature,
        torch.from_numpy(np.asarray(targets, np.int64))))
