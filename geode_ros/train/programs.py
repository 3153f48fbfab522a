"""Program-writing samples: a question and the query program it means, as text.

The VLM learns to write programs (``geode_ros.model.program_writer``) from two sources,
mixed into stage 0 and stage 2 batches (``ProgramConfig.train_share``): the everyday
training records of ``geode-synth`` (each carries its program) and fresh draws from the
training wordings (``geode_ros.data.paraphrase``) over the model's classes, with a few
requests that are no question about the scene (program ``none()``). Neither
holds the phrasings the parser is measured on (``test/query/phrasings``).
"""

from __future__ import annotations

from collections.abc import Sequence

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


def program_samples(rng: np.random.Generator, classes: tuple[str, ...], n: int,
                    records: Sequence[QARecord] = ()) -> list[GeodeSample]:
    """``n`` samples, half from ``records`` with a program (when there are any), half
    newly phrased."""
    with_program = [r for r in records if r.program and r.style == 'everyday']
    out = []
    for _ in range(n):
        if with_program and rng.random() < 0.5:
            r = with_program[int(rng.integers(len(with_program)))]
            out.append(program_sample(r.question, r.program))
        elif classes:
            out.append(program_sample(*random_training_pair(rng, classes)))
    return out


def program_corpus(classes: tuple[str, ...], n: int, seed: int = 0) -> list[str]:
    """Questions and program texts for the tiny VLM's tokenizer, so that it has tokens for
    the grammar ('count(', 'distance(robot, ') and the names people use."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        out += list(random_training_pair(rng, classes))
    return out
