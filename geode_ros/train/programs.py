"""Program-writing samples: a question and the query program it means, as text.

The VLM learns to write programs (``geode_ros.model.program_writer``) from three
sources, mixed into stage 0 and stage 2 batches (``ProgramConfig.train_share``): the
everyday training records of ``geode-synth`` (each carries its program), fresh draws from
the training wordings (``geode_ros.data.paraphrase``) over the model's classes, with a
few requests that are no question about the scene (program ``none()``), and the dev
phrasing sets (``TrainConfig.program_phrasings``). None holds the held-out phrasings the
parser is reported on (``test/query/phrasings/heldout.jsonl``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from geode_ros.data.paraphrase import random_training_pair
from geode_ros.data.qa import QARecord
from geode_ros.model.batch import GeodeSample
from geode_ros.model.prompt import PROGRAM

EMPTY_POINTS = np.zeros((0, 3), np.float32)
EMPTY_COLORS = np.zeros((0, 3), np.uint8)


def program_sample(question: str, program_text: str) -> GeodeSample:
    """A text-only sample: ``question`` -> ``program_text``."""
    return GeodeSample(question, EMPTY_POINTS, EMPTY_COLORS, [], qtype=PROGRAM,
                       answer=program_text)


class PhrasingTemplates:
    """Templates of phrasing-set files (``data/phrasings``), filled afresh at every draw
    with the set's own names: (question, program text) pairs in wordings written by
    people other than the training bank's author."""

    def __init__(self, paths: Sequence[str], classes: tuple[str, ...]) -> None:
        from geode_ros.data.phrasings import NAMES_FILE, load_names, load_templates
        from geode_ros.errors import GeodeError

        self.sets = []
        for path in paths:
            p = Path(path)
            split = p.stem
            if split not in NAMES_FILE or split == 'heldout':
                raise GeodeError(f'{path}: program_phrasings takes dev sets (dev.jsonl, '
                                 'dev2.jsonl), never the held-out one')
            names = {c: v for c, v in load_names(p.parent / NAMES_FILE[split], split).items()
                     if c in classes}
            usable = [t for t in load_templates(p) if t.get('expect') != 'unknown_category']
            if usable and names:
                self.sets.append((usable, names))

    def __len__(self) -> int:
        return len(self.sets)

    def draw(self, rng: np.random.Generator) -> tuple[str, str] | None:
        from geode_ros.data.phrasings import instantiate
        from geode_ros.query.program import NONE, ObjectArg, Program

        templates, names = self.sets[int(rng.integers(len(self.sets)))]
        t = templates[int(rng.integers(len(templates)))]
        got = instantiate([t], names, rng, sorted(names))
        if not got:
            return None
        q = got[0]
        if q.expect == 'cannot_parse':
            return q.question, f'{NONE}()'
        args = tuple(ObjectArg(c) for c in q.labels)
        return q.question, Program(q.kind, args, q.reference, q.unit).text


def program_samples(rng: np.random.Generator, classes: tuple[str, ...], n: int,
                    records: Sequence[QARecord] = (),
                    phrasings: PhrasingTemplates | None = None) -> list[GeodeSample]:
    """``n`` samples drawn from ``records`` with a program, the phrasing-set templates and
    fresh wordings of the training bank, in equal shares (of those there are)."""
    with_program = [r for r in records if r.program and r.style == 'everyday']
    sources = ['bank'] + (['records'] if with_program else []) + (
        ['phrasings'] if phrasings else [])
    out = []
    for _ in range(n):
        source = sources[int(rng.integers(len(sources)))]
        pair = None
        if source == 'records':
            r = with_program[int(rng.integers(len(with_program)))]
            pair = (r.question, r.program)
        elif source == 'phrasings':
            pair = phrasings.draw(rng)
        if pair is None and classes:
            pair = random_training_pair(rng, classes)
        if pair is not None:
            out.append(program_sample(*pair))
    return out


def program_corpus(classes: tuple[str, ...], n: int, seed: int = 0) -> list[str]:
    """Questions and program texts for the tiny VLM's tokenizer, so that it has tokens for
    the grammar ('count(', 'distance(robot, ') and the names people use."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        out += list(random_training_pair(rng, classes))
    return out
