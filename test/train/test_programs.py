"""Program-writing training samples: sources, validity, and the held-out set kept out."""

from pathlib import Path

import numpy as np
import pytest

from geode_ros.data.scene_layout import CLASSES
from geode_ros.errors import GeodeError
from geode_ros.model.prompt import PROGRAM
from geode_ros.query.lexicon import Lexicon
from geode_ros.query.program import NONE, parse_program_text
from geode_ros.train.programs import PhrasingTemplates, program_corpus, program_samples

SETS = Path(__file__).parents[1] / 'query' / 'phrasings'


def test_samples_are_valid_programs_from_every_source():
    phrasings = PhrasingTemplates([str(SETS / 'dev.jsonl'), str(SETS / 'dev2.jsonl')], CLASSES)
    assert len(phrasings) == 2
    samples = program_samples(np.random.default_rng(0), CLASSES, 200, (), phrasings)
    assert len(samples) == 200 and all(s.qtype == PROGRAM for s in samples)
    lexicon = Lexicon(CLASSES)
    kinds = set()
    for s in samples:
        if s.answer == f'{NONE}()':
            kinds.add(NONE)
            continue
        kinds.add(parse_program_text(s.answer, lexicon.resolve).kind)
    assert {'count', 'where', 'distance', 'nearest', 'last_seen', NONE} <= kinds
    assert any('count(' in t for t in program_corpus(CLASSES, 50))


def test_the_held_out_set_never_trains():
    with pytest.raises(GeodeError, match='never the held-out'):
        PhrasingTemplates([str(SETS / 'heldout.jsonl')], CLASSES)
