"""Phrasing sets: question templates per query kind, with the program each one means.

The format of ``test/query/phrasings`` (its README): ``names.json`` holds per class the
names people use, split into a ``dev`` and a ``heldout`` half (plus typos and objects
outside the vocabulary); ``dev.jsonl`` / ``heldout.jsonl`` hold one template per line,
with slots ``{a}``, ``{b}`` (singular names) and ``{a_pl}``, ``{b_pl}`` (plural) and the
expected kind, object slots, reference and unit. ``instantiate`` fills the templates of
one split with names of the same split, so a held-out template is only ever read with
held-out names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geode_ros.errors import GeodeError

SPLITS = ('dev', 'dev2', 'dev3', 'heldout')
NAMES_FILE = {'dev': 'names.json', 'dev2': 'names2.json', 'dev3': 'names3.json',
              'heldout': 'names.json'}


@dataclass(frozen=True)
class PhrasedQuestion:
    """One filled template: the question and the program it should become."""

    id: str
    question: str
    kind: str | None
    labels: tuple[str, ...]  # canonical classes, in argument order
    reference: str  # '', 'robot' or 'object'
    unit: str
    expect: str  # '' (answerable), 'unknown_category' or 'cannot_parse'
    typo: bool = False


def load_templates(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise GeodeError(f'phrasing set not found: {path}')
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_names(path: str | Path, split: str) -> dict[str, list[tuple[str, str]]]:
    """Per class, the (singular, plural) names of one split of ``names.json`` (or of a
    names file with one list per class, ``names2.json``)."""
    if split not in SPLITS:
        raise GeodeError(f'split must be one of {SPLITS}, got {split!r}')
    data = json.loads(Path(path).read_text())
    return {cls: list(zip(*(v.get(split, v)[k] for k in ('singular', 'plural'))))
            for cls, v in data['classes'].items()}


def instantiate(templates: list[dict], names: dict[str, list[tuple[str, str]]],
                rng: np.random.Generator, classes: list[str] | None = None,
                per_template: int = 1) -> list[PhrasedQuestion]:
    """Fill each template ``per_template`` times with random distinct classes (from
    ``classes``, default every class with names) and a random name of each."""
    pool = sorted(classes if classes is not None else names)
    out = []
    for t in templates:
        for k in range(per_template):
            slots = t.get('objects') or []
            if len(slots) > len(pool):
                continue
            picked = [str(c) for c in rng.choice(pool, size=len(slots), replace=False)]
            text = t['template']
            for slot, cls in zip(slots, picked):
                sing, plur = names[cls][int(rng.integers(len(names[cls])))]
                text = text.replace('{' + slot + '_pl}', plur).replace('{' + slot + '}', sing)
            ref = t.get('reference') or ''
            out.append(PhrasedQuestion(
                f'{t["id"]}#{k}', text, t.get('kind'), tuple(picked),
                ref if ref == 'robot' else '', t.get('unit') or '', t.get('expect') or '',
                bool(t.get('typo'))))
    return out
