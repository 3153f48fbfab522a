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
LAST_SEEN_TOL_S = 1.0  # a last-seen stamp this close to the truth is right (2 frames at 2 Hz)
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


def _labels(text: str) -> set[str]:
    return {x.strip() for x in text.split(',') if x.strip()}


def _f1(pred: set[str], gt: set[str]) -> float:
    if not pred and not gt:
        return 1.0
    hit = len(pred & gt)
    return 0.0 if hit == 0 else 2.0 * hit / (len(pred) + len(gt))


def _hit(prediction: Any, record: QARecord) -> float:
    """1 when the first box predicted overlaps the record's box by IoU >= 0.25."""
    box = _box_of(prediction)
    return float(box is not None and record.box is not None
                 and box_iou_3d(box, record.box) >= AP_THRESHOLDS[0] - _EPS)


def score_everyday(record: QARecord, prediction: Any) -> float:
    """Score in [0, 1] of an everyday (``style='everyday'``) record: MRA for numbers, exact
    match for yes/no and sides, F1 of the labels for lists, a box at IoU >= 0.25 for
    locations (no box for an absent object), and a stamp within ``LAST_SEEN_TOL_S``."""
    from geode_ros.query.config import QueryConfig
    from geode_ros.query.execute import side_of

    values = list(getattr(prediction, 'values', None) or [])
    boxes = list(getattr(prediction, 'boxes', None) or [])
    t = record.type
    if t in NUMERIC_TYPES or t == 'robot_distance':
        return mean_relative_accuracy(values[0], record.value) if values else 0.0
    if t == 'grounding_3d':
        return float(not boxes) if record.box is None else _hit(prediction, record)
    if t == 'nearest_object':
        return _hit(prediction, record)
    if t == 'object_exists':
        return float(bool(values) and round(values[0]) == record.value)
    if t == 'object_list':
        return _f1({b.label for b in boxes}, _labels(record.answer))
    if t == 'objects_near':
        return _f1({b.label for b in boxes[1:]}, _labels(record.answer)) if boxes else 0.0
    if t == 'robot_direction':
        return float(bool(values) and side_of(values[0], QueryConfig()) == record.answer)
    if t == 'last_seen':
        return float(bool(values) and abs(values[0] - record.value) <= LAST_SEEN_TOL_S)
    raise ValueError(f'no everyday scoring for type {t!r}')


def score_record(record: QARecord, prediction: Any) -> float:
    """Score one prediction in [0, 1] (grounding: the IoU).

    ``prediction`` may be answer text, a number, a Box3D / box dict, or an object
    with ``text`` / ``values`` / ``boxes`` (e.g. ``geode_ros.scene.types.Answer``).
    """
    text = getattr(prediction, 'text', prediction)
    if record.style == 'everyday':
        return score_everyday(record, prediction)
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
EVERYDAY_PREFIX = 'everyday:'
# the everyday key of each record type (counts and locations of absent objects apart)
EVERYDAY_KEYS = {'object_count': 'count', 'grounding_3d': 'where', 'object_exists': 'exists',
                 'object_list': 'list', 'object_abs_distance': 'distance',
                 'object_size_estimation': 'size', 'room_size_estimation': 'room_area',
                 'robot_distance': 'robot_distance', 'robot_direction': 'direction',
                 'nearest_object': 'nearest', 'objects_near': 'near', 'last_seen': 'last_seen'}


def score_key(record: QARecord) -> str:
    """The key a record is aggregated under: its type (``ABSENT_KEY`` for grounding of an
    absent object), or for everyday records ``everyday:<kind>`` (``count_absent`` and
    ``where_absent`` apart: the answer is 0 / not found)."""
    if record.style == 'everyday':
        key = EVERYDAY_KEYS[record.type]
        absent = (record.type == 'object_count' and record.value == 0) or (
            record.type == 'grounding_3d' and record.box is None)
        return EVERYDAY_PREFIX + key + ('_absent' if absent else '')
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
    everyday = [v for k, v in out.items() if k.startswith(EVERYDAY_PREFIX)]
    if everyday:
        out['everyday'] = float(np.mean(everyday))
    return out


def baseline_scores(train: Sequence[QARecord], test: Sequence[QARecord]) -> dict[str, float]:
    """Trivial baselines on ``test``, aggregated like ``aggregate``.

    Numeric: predict the per-type mean of ``train``. Multiple choice: chance,
    1 / number of options. Grounding: the mean training box of the same label
    (the mean over all labels when unseen), yaw 0. Everyday records: ``EverydayBaseline``.
    """
    means: dict[str, float] = {}
    for qtype in NUMERIC_TYPES:
        vals = [r.value for r in train if r.type == qtype and r.value is not None
                and r.style == 'template']
        if vals:
            means[qtype] = float(np.mean(vals))
    boxes: dict[str, list[np.ndarray]] = defaultdict(list)
    for r in train:
        if r.type in BOX_TYPES and r.box is not None:
            boxes[r.box.get('label', '')].append(np.r_[r.box['center'], r.box['size']])
    all_boxes = [b for v in boxes.values() for b in v]
    scores: dict[str, list[float]] = defaultdict(list)
    everyday = EverydayBaseline([r for r in train if r.style == 'everyday'], boxes)
    for r in test:
        if r.style == 'everyday':
            scores[score_key(r)].append(score_record(r, everyday.predict(r)))
        elif is_absent_grounding(r):
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


class EverydayBaseline:
    """The trivial predictor of everyday records, from the training records: the mean value
    of the same kind and unit, the majority yes/no and side, the classes in at least half
    of the training lists, nothing near anything, the class's mean training box."""

    def __init__(self, train: Sequence[QARecord], boxes: dict[str, list[np.ndarray]]) -> None:
        self.boxes = boxes
        self.values: dict[tuple, list[float]] = defaultdict(list)
        self.answers: dict[str, list[str]] = defaultdict(list)
        lists: list[set[str]] = []
        for r in train:
            if r.value is not None:
                self.values[self._key(r)].append(r.value)
            self.answers[r.type].append(r.answer)
            if r.type == 'object_list':
                lists.append(_labels(r.answer))
        every = sorted({x for labels in lists for x in labels})
        self.usual = [x for x in every if sum(x in lab for lab in lists) * 2 >= len(lists)]

    @staticmethod
    def _key(r: QARecord) -> tuple:
        unit = re.search(r'unit=(\w+)', r.program)
        return r.type, unit.group(1) if unit else ''

    def predict(self, r: QARecord) -> Any:
        from types import SimpleNamespace

        vals = self.values.get(self._key(r))
        mean = [float(np.mean(vals))] if vals else []
        label = (r.box or {}).get('label', '') or (r.answer if r.type == 'nearest_object'
                                                    else '')
        pool = self.boxes.get(label) or [b for v in self.boxes.values() for b in v]
        box = [Box3D(label, np.mean(pool, 0)[:3], np.mean(pool, 0)[3:])] if pool else []
        answers = self.answers.get(r.type, [])
        majority = max(set(answers), key=answers.count) if answers else ''
        t = r.type
        if t == 'object_exists':
            return SimpleNamespace(text=majority, values=[float(majority == 'yes')], boxes=[])
        if t == 'object_list':
            return SimpleNamespace(text='', values=[], boxes=[Box3D(x, np.zeros(3), np.ones(3))
                                                             for x in self.usual])
        if t == 'robot_direction':
            angle = {'ahead': 0.0, 'left': 90.0, 'right': -90.0, 'behind': 180.0}
            return SimpleNamespace(text=majority, values=[angle.get(majority, 0.0)], boxes=[])
        if t == 'objects_near':
            return SimpleNamespace(text='', values=[], boxes=box[:1])
        if t in ('grounding_3d', 'nearest_object'):
            return SimpleNamespace(text='', values=[], boxes=box)
        return SimpleNamespace(text='', values=mean, boxes=[])
