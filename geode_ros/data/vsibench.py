"""Load VSI-Bench's released QA files into ``QARecord``s.

VSI-Bench rows have ``id, dataset, scene_name, question_type, question, options,
ground_truth``; the video of a row is ``<video_root>/<dataset>/<scene_name>.mp4``
(or a frames folder of that name). A record's ``scene`` is ``'<dataset>/<scene_name>'``.
JSON (a list, or an object with a ``data``/``test`` list) and JSONL always load;
parquet needs pyarrow or pandas.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from geode_ros.data.qa import CHOICE_TYPES, NUMERIC_TYPES, QARecord, option_letter, option_text
from geode_ros.errors import GeodeError

TYPE_MAP: dict[str, str] = {
    'object_counting': 'object_count',
    'object_count': 'object_count',
    'object_abs_distance': 'object_abs_distance',
    'object_size_estimation': 'object_size_estimation',
    'room_size_estimation': 'room_size_estimation',
    'object_rel_distance': 'object_rel_distance',
    'object_rel_direction': 'object_rel_direction',
    'object_rel_direction_easy': 'object_rel_direction',
    'object_rel_direction_medium': 'object_rel_direction',
    'object_rel_direction_hard': 'object_rel_direction',
    'route_planning': 'route_plan',
    'route_plan': 'route_plan',
    'obj_appearance_order': 'obj_appearance_order',
}
REQUIRED = ('scene_name', 'question_type', 'question', 'ground_truth')


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Raw rows of a VSI-Bench ``.parquet``, ``.json`` or ``.jsonl`` file."""
    path = Path(path)
    if not path.is_file():
        raise GeodeError(f'VSI-Bench file not found: {path}')
    suffix = path.suffix.lower()
    if suffix == '.parquet':
        return _read_parquet(path)
    if suffix == '.jsonl':
        rows = []
        for lineno, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise GeodeError(f'{path}:{lineno}: not valid JSON: {exc.msg}') from exc
        return rows
    if suffix == '.json':
        try:
            data = json.loads(path.read_text(encoding='utf-8'))
        except json.JSONDecodeError as exc:
            raise GeodeError(f'{path}: not valid JSON: {exc}') from exc
        if isinstance(data, dict):
            data = next((data[k] for k in ('data', 'test', 'rows') if k in data), None)
        if not isinstance(data, list):
            raise GeodeError(f'{path}: expected a JSON list of rows (or {{"data": [...]}})')
        return data
    raise GeodeError(f'{path}: unsupported VSI-Bench file type {suffix!r} '
                     '(use .parquet, .json or .jsonl)')


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        pq = None
    if pq is not None:
        return pq.read_table(path).to_pylist()
    try:
        import pandas as pd
    except ImportError:
        raise GeodeError(f'reading {path} needs a parquet reader: `pip install pyarrow` '
                         '(or convert the file to JSON/JSONL)') from None
    try:
        return pd.read_parquet(path).to_dict(orient='records')
    except ImportError as exc:  # pandas present but no engine
        raise GeodeError(f'reading {path} needs `pip install pyarrow`: {exc}') from exc


def _options(raw: Any) -> list[str] | None:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    if hasattr(raw, 'tolist'):  # numpy array from pandas
        raw = raw.tolist()
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raw = [raw]
    opts = [str(o) for o in raw]
    return opts or None


def row_to_record(row: dict[str, Any]) -> QARecord:
    """One VSI-Bench row as a QARecord (numeric answers keep their value)."""
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise GeodeError(f'VSI-Bench row misses field(s) {missing}')
    qtype = TYPE_MAP.get(str(row['question_type']))
    if qtype is None:
        raise GeodeError(f'unknown VSI-Bench question_type {row["question_type"]!r}; '
                         f'known: {sorted(TYPE_MAP)}')
    dataset = str(row.get('dataset') or '').strip()
    scene = f'{dataset}/{row["scene_name"]}' if dataset else str(row['scene_name'])
    gt = str(row['ground_truth']).strip()
    options = _options(row.get('options'))
    value = None
    if qtype in NUMERIC_TYPES:
        try:
            value = float(gt)
        except ValueError as exc:
            raise GeodeError(f'VSI-Bench numeric ground_truth {gt!r} is not a number') from exc
    elif qtype in CHOICE_TYPES:
        if not options:
            raise GeodeError(f'VSI-Bench {row["question_type"]} row has no options')
        gt = _letter(gt, options)
    return QARecord(scene, str(row['question']), qtype, gt, value, options, None, '')


def _letter(gt: str, options: list[str]) -> str:
    """Ground truth as an option letter (VSI-Bench stores letters; accept option text too)."""
    letters = [option_letter(i) for i in range(len(options))]
    cand = gt.rstrip('.').strip()
    if cand.upper() in letters:
        return cand.upper()
    for letter, opt in zip(letters, options):
        if cand.lower() in (opt.lower(), option_text(opt).lower()):
            return letter
    raise GeodeError(f'VSI-Bench ground_truth {gt!r} matches none of the options {options}')


def load_vsibench(path: str | Path, types: Iterable[str] | None = None) -> list[QARecord]:
    """All rows of a VSI-Bench file as QARecords, optionally only some (our) ``types``."""
    keep = set(types) if types is not None else None
    out = []
    for i, row in enumerate(read_rows(path)):
        try:
            rec = row_to_record(row)
        except GeodeError as exc:
            raise GeodeError(f'{path}: row {i} (id {row.get("id", "?")}): {exc}') from exc
        if keep is None or rec.type in keep:
            out.append(rec)
    return out


def video_path(record: QARecord, video_root: str | Path) -> Path:
    """The video file or frames folder of a VSI-Bench record under ``video_root``."""
    root = Path(video_root)
    for cand in (root / f'{record.scene}.mp4', root / record.scene):
        if cand.exists():
            return cand
    raise GeodeError(f'no video for scene {record.scene!r} under {root} '
                     f'(looked for {record.scene}.mp4 and a folder {record.scene}/)')
