"""VSI-Bench metrics: MRA for numbers, exact match for choices, 3D IoU / AP for boxes.

- Numeric types: Mean Relative Accuracy, the mean over theta in {0.50, 0.55, ..., 0.95}
  of 1[|pred - gt| / gt <= 1 - theta]. Boundaries are inclusive with a 1e-9 tolerance
  (VSI-Bench's float implementation can drop an exact boundary case such as 1.1 vs 1.0).
- Multiple choice: exact match of the option letter.
- Grounding: 3D IoU of yaw-rotated boxes (exact). With one box per question,
  AP@t is the fraction of questions whose predicted box has IoU >= t.
- An absent-object grounding question ("Where is the X?" with no X in the scene) scores 1
  when no box is given, 0 otherwise; it is reported apart as ``grounding_3d_absent``.
- An unparseable prediction scores 0.
Scores are in [0, 1] per record; ``aggregate`` reports percent, as VSI-Bench does.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from geode_ros.data.qa import (
    BOX_TYPES,
    CHOICE_TYPES,
    NUMERIC_TYPES,
    QARecord,
    is_absent_grounding,
    option_text,
)
from geode_ros.scene.boxgeom import box_iou_3d
from geode_ros.scene.types import Box3D

MRA_THRESHOLDS = np.round(np.arange(0.50, 0.951, 0.05), 2)  # 10 thresholds
AP_THRESHOLDS = (0.25, 0.5)
_EPS = 1e-9
_NUMBER = re.compile(r'[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?')
_LETTER = re.compile(r'^(?i:(?:the\s+)?answer(?:\s+is)?\s*:?\s*)?\(?([A-Z])\)?(?:[.:),\s]|$)')
_WORDS = {w: float(i) for i, w in enumerate(
    'zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen '
    'fifteen sixteen seventeen eighteen nineteen twenty'.split())}


def mean_relative_accuracy(pred: float, gt: float) -> float:
    """MRA of one numeric prediction (0 for a non-finite prediction)."""
    if pred is None or not np.isfinite(pred):
        return 0.0
    if gt == 0:
        return float(abs(pred) <= _EPS)
    rel = abs(pred - gt) / abs(gt)
    return float(np.mean(rel <= 1.0 - MRA_THRESHOLDS + _EPS))


def parse_number(text: Any) -> float | None:
    """The first number in ``text`` ('1.5', '1,200 cm', 'about 3 m', 'three'); None if none."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text) if np.isfinite(text) else None
    if not isinstance(text, str):
        return None
    for m in _NUMBER.finditer(text):
        s = m.group(0)
        if any(ch.isdigit() for ch in s):
            try:
                return float(s.replace(',', ''))
            except ValueError:
                continue
    for word in re.findall(r'[a-z]+', text.lower()):
        if word in _WORDS:
            return _WORDS[word]
    return None


def parse_choice(text: Any, options: Sequence[str]) -> str | None:
    """The option letter a free-text answer picks ('B', 'B.', '(B) lamp', 'lamp'); else None."""
    if not isinstance(text, str) or not options:
        return None
    letters = [chr(ord('A') + i) for i in range(len(options))]
    s = text.strip()
    m = _LETTER.match(s)
    if m and m.group(1) in letters:
        return m.group(1)
    norm = s.lower().rstrip('.').strip()
    for letter, opt in zip(letters, options):
        if norm in (opt.lower(), option_text(opt).lower()):
            return letter
    hits = [letter for letter, opt in zip(letters, options)
            if re.search(r'\b' + re.escape(option_text(opt).lower()) + r'\b', norm)]
    return hits[0] if len(hits) == 1 else None


def _box_of(pred: Any) -> Box3D | None:
    if isinstance(pred, Box3D):
        return pred
    if isinstance(pred, Mapping):
        try:
            return Box3D.from_dict(dict(pred))
        except (KeyError, TypeError, ValueError):
            return None
    boxes = getattr(pred, 'boxes', None)
    return boxes[0] if boxes else None


def score_record(record: QARecord, prediction: Any) -> float:
    """Score one prediction in [0, 1] (grounding: the IoU).

    ``prediction`` may be answer text, a number, a Box3D / box dict, or an object
    with ``text`` / ``values`` / ``boxes`` (e.g. ``geode_ros.scene.types.Answer``).
    """
    text = getattr(prediction, 'text', prediction)
    if record.type in NUMERIC_TYPES:
        values = getattr(prediction, 'values', None)
        pred = float(values[0]) if values else parse_number(text)
        gt = record.value if record.value is not None else parse_number(record.answer)
        return 0.0 if pred is None or gt is None else mean_relative_accuracy(pred, gt)
    if record.type in CHOICE_TYPES:
        choice = parse_choice(text, record.options or [])
        return float(choice is not None and choice == record.answer.strip().upper())
    if is_absent_grounding(record):
        return float(_box_of(prediction) is None)
    if record.type in BOX_TYPES:
        box = _box_of(prediction)
        if box is None or record.box is None or not np.all(np.asarray(box.size) > 0):
            return 0.0
        return box_iou_3d(box, record.box)
    raise ValueError(f'unknown question type {record.type!r}')


ABSENT_KEY = 'grounding_3d_absent'


def score_key(record: QARecord) -> str:
    """The key a record is aggregated under: its type, or ``ABSENT_KEY``."""
    return ABSENT_KEY if is_absent_grounding(record) else record.type


def score_all(records: Sequence[QARecord], predictions: Sequence[Any]) -> dict[str, list[float]]:
    """Per-type lists of scores for parallel sequences of records and predictions."""
    out: dict[str, list[float]] = defaultdict(list)
    for r, p in zip(records, predictions, strict=True):
        out[score_key(r)].append(score_record(r, p))
    return dict(out)


def aggregate(scores_by_type: Mapping[str, Iterable[float]]) -> dict[str, float]:
    """Percent per type, plus ``overall`` = mean over the VSI-Bench types present.

    Grounding reports ``grounding_3d`` (mean IoU x 100), ``grounding_3d_AP@0.25`` and
    ``grounding_3d_AP@0.5``; it is left out of ``overall`` (VSI-Bench has no grounding).
    """
    out: dict[str, float] = {}
    for qtype, scores in scores_by_type.items():
        s = np.asarray(list(scores), dtype=np.float64)
        if s.size == 0:
            continue
        out[qtype] = 100.0 * float(s.mean())
        if qtype in BOX_TYPES:
            for t in AP_THRESHOLDS:
                out[f'{qtype}_AP@{t:g}'] = 100.0 * float(np.mean(s >= t - _EPS))
    vsi = [out[t] for t in (*NUMERIC_TYPES, *CHOICE_TYPES) if t in out]
    if vsi:
        out['overall'] = float(np.mean(vsi))
    return out


def baseline_scores(train: Sequence[QARecord], test: Sequence[QARecord]) -> dict[str, float]:
    """Trivial baselines on ``test``, aggregated like ``aggregate``.

    Numeric: predict the per-type mean of ``train``. Multiple choice: chance,
    1 / number of options. Grounding: the mean training box of the same label
    (the mean over all labels when unseen), yaw 0.
    """
    means: dict[str, float] = {}
    for qtype in NUMERIC_TYPES:
        vals = [r.value for r in train if r.type == qtype and r.value is not None]
        if vals:
            means[qtype] = float(np.mean(vals))
    boxes: dict[str, list[np.ndarray]] = defaultdict(list)
    for r in train:
        if r.type in BOX_TYPES and r.box is not None:
            boxes[r.box.get('label', '')].append(np.r_[r.box['center'], r.box['size']])
    all_boxes = [b for v in boxes.values() for b in v]
    scores: dict[str, list[float]] = defaultdict(list)
    for r in test:
        if is_absent_grounding(r):
            scores[ABSENT_KEY].append(0.0)  # the mean box is always given
        elif r.type in NUMERIC_TYPES:
            scores[r.type].append(score_record(r, means[r.type]) if r.type in means else 0.0)
        elif r.type in CHOICE_TYPES:
            scores[r.type].append(1.0 / max(1, len(r.options or [])))
        elif r.type in BOX_TYPES:
            label = (r.box or {}).get('label', '')
            pool = boxes.get(label) or all_boxes
            if not pool:
                scores[r.type].append(0.0)
                continue
            m = np.mean(pool, axis=0)
            scores[r.type].append(score_record(r, Box3D(label, m[:3], m[3:])))
    return aggregate(scores)
