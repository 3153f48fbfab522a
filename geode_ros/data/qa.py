"""QA records: the one JSONL schema for synthetic data, VSI-Bench and evaluation.

One JSON object per line (DESIGN section 5)::

    {"scene": "scenes/000042", "question": "...", "type": "object_abs_distance",
     "answer": "1.5", "value": 1.503, "options": null, "box": null, "rationale": "..."}

``box`` (grounding only) is ``{"label", "center": [x, y, z], "size": [sx, sy, sz], "yaw"}``.
A grounding record with ``box: null`` asks about an object that is not in the scene: the
right answer says so and gives no box (``absent_label`` names the object asked about).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from geode_ros.errors import GeodeError

QUESTION_TYPES: tuple[str, ...] = (
    'object_count',
    'object_abs_distance',
    'object_size_estimation',
    'room_size_estimation',
    'object_rel_distance',
    'object_rel_direction',
    'route_plan',
    'obj_appearance_order',
    'grounding_3d',
    # the robot's own kinds (asked in everyday wording; no VSI-Bench counterpart)
    'object_exists',
    'object_list',
    'robot_distance',
    'robot_direction',
    'nearest_object',
    'objects_near',
    'last_seen',
)
ROBOT_TYPES: tuple[str, ...] = ('object_exists', 'object_list', 'robot_distance',
                                'robot_direction', 'nearest_object', 'objects_near',
                                'last_seen')
STYLES: tuple[str, ...] = ('template', 'everyday')  # VSI-Bench's wording, or people's
# Answered by a number, scored by Mean Relative Accuracy.
NUMERIC_TYPES: tuple[str, ...] = (
    'object_count',
    'object_abs_distance',
    'object_size_estimation',
    'room_size_estimation',
)
# Answered by an option letter, scored by exact match.
CHOICE_TYPES: tuple[str, ...] = (
    'object_rel_distance',
    'object_rel_direction',
    'route_plan',
    'obj_appearance_order',
)
# Answered by a 3D box, scored by IoU (AP@0.25 / AP@0.5).
BOX_TYPES: tuple[str, ...] = ('grounding_3d',)

FIELDS: tuple[str, ...] = (
    'scene', 'question', 'type', 'answer', 'value', 'options', 'box', 'rationale', 'style',
    'program',
)


@dataclass
class QARecord:
    """One question with its ground truth (see module docstring for the fields)."""

    scene: str
    question: str
    type: str
    answer: str
    value: float | None = None
    options: list[str] | None = None
    box: dict[str, Any] | None = None
    rationale: str = ''
    style: str = 'template'  # 'template' (VSI-Bench wording) or 'everyday' (people's)
    program: str = ''  # the query program the question means (everyday records)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise GeodeError if the record breaks the schema."""
        for name in ('scene', 'question', 'type', 'answer', 'rationale', 'style', 'program'):
            if not isinstance(getattr(self, name), str):
                raise GeodeError(f'QA field {name!r} must be a string, got '
                                 f'{type(getattr(self, name)).__name__}')
        if self.type not in QUESTION_TYPES:
            raise GeodeError(f'unknown QA type {self.type!r}; known: {list(QUESTION_TYPES)}')
        if self.style not in STYLES:
            raise GeodeError(f'QA style must be one of {list(STYLES)}, got {self.style!r}')
        if self.value is not None:
            if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
                raise GeodeError(f'QA field value must be a number or null, got {self.value!r}')
            if not math.isfinite(self.value):
                raise GeodeError(f'QA field value must be finite, got {self.value!r}')
            self.value = float(self.value)
        if self.type in NUMERIC_TYPES and self.value is None:
            raise GeodeError(f'a {self.type} record needs a numeric value')
        if self.options is not None:
            if not isinstance(self.options, list) or not all(
                isinstance(o, str) for o in self.options
            ):
                raise GeodeError('QA field options must be a list of strings or null')
        if self.type in CHOICE_TYPES and not self.options:
            raise GeodeError(f'a {self.type} record needs options')
        if self.box is not None:
            _check_box(self.box)
        if self.type in BOX_TYPES and self.box is None and not self.answer.strip():
            raise GeodeError(f'a {self.type} record needs a box, or (about an absent object) '
                             'an answer saying it is not there')

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QARecord:
        """Build from a JSON object; unknown or missing required keys raise GeodeError."""
        if not isinstance(d, dict):
            raise GeodeError(f'a QA record must be a JSON object, got {type(d).__name__}')
        unknown = sorted(set(d) - set(FIELDS))
        if unknown:
            raise GeodeError(f'unknown QA field(s) {unknown}; known: {list(FIELDS)}')
        missing = [k for k in ('scene', 'question', 'type', 'answer') if k not in d]
        if missing:
            raise GeodeError(f'QA record misses field(s) {missing}')
        kwargs = {k: d[k] for k in FIELDS if k in d}
        for key in ('rationale', 'program'):
            if kwargs.get(key) is None:
                kwargs[key] = ''
        return cls(**kwargs)


def is_absent_grounding(record: QARecord) -> bool:
    """A grounding record about an object that is not in the scene (no box to find)."""
    return record.type in BOX_TYPES and record.box is None


def _check_box(box: Any) -> None:
    if not isinstance(box, dict):
        raise GeodeError('QA field box must be an object with label, center, size, yaw')
    for key, n in (('center', 3), ('size', 3)):
        v = box.get(key)
        if not isinstance(v, list) or len(v) != n or not all(
            isinstance(x, (int, float)) and math.isfinite(x) for x in v
        ):
            raise GeodeError(f'QA box {key} must be a list of {n} finite numbers, got {v!r}')
    if any(s <= 0 for s in box['size']):
        raise GeodeError(f'QA box size must be positive, got {box["size"]}')
    if not isinstance(box.get('yaw', 0.0), (int, float)):
        raise GeodeError('QA box yaw must be a number (radians)')


def option_letter(i: int) -> str:
    """'A', 'B', ... for option index ``i``."""
    return chr(ord('A') + i)


def format_options(choices: Iterable[str]) -> list[str]:
    """VSI-Bench style options: ['A. sofa', 'B. lamp', ...]."""
    return [f'{option_letter(i)}. {c}' for i, c in enumerate(choices)]


def option_text(option: str) -> str:
    """'A. sofa' -> 'sofa' (text unchanged when it has no letter prefix)."""
    if len(option) >= 3 and option[0].isalpha() and option[1] == '.' and option[2] == ' ':
        return option[3:]
    return option


def load_qa(path: str | Path) -> list[QARecord]:
    """Read a QA JSONL file, or every ``*.jsonl`` in a directory (sorted, recursive)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.rglob('*.jsonl'))
        if not files:
            raise GeodeError(f'no *.jsonl QA files under {path}')
        return [r for f in files for r in load_qa(f)]
    if not path.is_file():
        raise GeodeError(f'QA file not found: {path}')
    records = []
    with path.open(encoding='utf-8') as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                records.append(QARecord.from_dict(json.loads(line)))
            except json.JSONDecodeError as exc:
                raise GeodeError(f'{path}:{lineno}: not valid JSON: {exc.msg}') from exc
            except (GeodeError, TypeError) as exc:
                raise GeodeError(f'{path}:{lineno}: {exc}') from exc
    return records


def save_qa(records: Iterable[QARecord], path: str | Path) -> Path:
    """Write records as JSONL (one object per line); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open('w', encoding='utf-8') as fh:
        for r in records:
            r.validate()
            fh.write(r.to_json() + '\n')
    return path
