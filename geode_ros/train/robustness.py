"""The same questions scored on several renderings of the same scenes, side by side.

``geode-synth`` renders a seed's room identically in every sensing mode (same layout,
camera path, ground truth and questions), and a frames folder can also be fed as point
clouds only. ``geode-eval --compare`` uses that: one column per condition (clean frames,
realistic frames, the held-out sensor, points only with and without colours), so a drop
in a column is what that sensing costs and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geode_ros.data.qa import QARecord
from geode_ros.errors import GeodeError
from geode_ros.train.evaluate import EvalResult, evaluate
from geode_ros.train.scenes import INPUTS, SceneStore

ROWS = ('object_count', 'object_abs_distance', 'object_size_estimation', 'room_size_estimation',
        'object_rel_distance', 'object_rel_direction', 'route_plan', 'obj_appearance_order',
        'overall', 'grounding_3d', 'grounding_3d_AP@0.25', 'grounding_3d_absent')


@dataclass
class Column:
    """One condition: a name, the dataset root its scenes are read from, how they are fed."""

    name: str
    root: Path
    inputs: str = 'frames'


def parse_column(spec: str) -> Column:
    """``NAME=DIR`` or ``NAME=DIR@INPUT`` (INPUT one of ``INPUTS``)."""
    name, sep, rest = spec.partition('=')
    if not sep or not name or not rest:
        raise GeodeError(f'--compare takes NAME=DIR[@INPUT], got {spec!r}')
    root, _, inputs = rest.partition('@')
    inputs = inputs or 'frames'
    if inputs not in INPUTS:
        raise GeodeError(f'--compare {spec!r}: input must be one of {", ".join(INPUTS)}')
    if not Path(root).is_dir():
        raise GeodeError(f'--compare {spec!r}: {root} is not a dataset directory')
    return Column(name, Path(root), inputs)


def check_same_questions(records: Sequence[QARecord], column: Column) -> None:
    """The column's own qa.jsonl must hold the same questions (the same seeds rendered
    another way); a column without one is fed the given records as they are."""
    from geode_ros.data.qa import load_qa

    qa = column.root / 'qa.jsonl'
    if not qa.is_file():
        return
    theirs = {(r.scene, r.question) for r in load_qa(qa)}
    missing = [r for r in records if (r.scene, r.question) not in theirs]
    if missing:
        raise GeodeError(f'--compare {column.name}: {column.root} does not hold the same '
                         f'scenes and questions ({len(missing)} of {len(records)} missing, e.g. '
                         f'{missing[0].scene}: {missing[0].question[:60]!r}); render the same '
                         'seeds in every sensing mode')


def evaluate_columns(model, records: Sequence[QARecord], columns: Sequence[Column],
                     batch_size: int = 8, train_records: Sequence[QARecord] | None = None,
                     progress: bool = True, scene_config=None) -> dict[str, EvalResult]:
    """``evaluate`` once per column (each with its own scene store)."""
    out = {}
    for col in columns:
        check_same_questions(records, col)
        store = SceneStore(col.root, model, scene_config, inputs=col.inputs)
        out[col.name] = evaluate(model, records, store, batch_size, train_records, progress)
    return out


def format_columns(results: dict[str, EvalResult]) -> str:
    """Rows: question types, overall, grounding (mean IoU, AP@0.25), absent objects."""
    names = list(results)
    width = max(9, *(len(n) + 2 for n in names))
    lines = [f'{"type":<24}' + ''.join(f'{n:>{width}}' for n in names)]
    for row in ROWS:
        vals = [r.summary.get(row) for r in results.values()]
        if all(v is None for v in vals):
            continue
        label = {'grounding_3d': 'grounding mean IoU', 'grounding_3d_AP@0.25': '  AP@0.25',
                 'grounding_3d_absent': 'absent: "not found"',
                 'overall': 'overall (VSI types)'}.get(row, row)
        lines.append(f'{label:<24}' + ''.join(
            f'{v:>{width}.1f}' if v is not None and np.isfinite(v) else f'{"-":>{width}}'
            for v in vals))
    return '\n'.join(lines)
