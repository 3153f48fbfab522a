"""The rule parser and lexicon: everyday phrasings, VSI-Bench templates, unknown names."""

from pathlib import Path

import numpy as np
import pytest
import regex

from geode_ros.data.paraphrase import random_phrasing
from geode_ros.data.phrasings import instantiate, load_names, load_templates
from geode_ros.query.lexicon import Lexicon, plural
from geode_ros.query.parse import parse_rules
from geode_ros.query.pipeline import structured, understand
from geode_ros.query.program import (
    CANNOT_PARSE,
    UNKNOWN_CATEGORY,
    Program,
    QueryError,
    parse_program_text,
    program_pattern,
)
from geode_ros.query.vsi_templates import split_options, vsi_question

CLASSES = ('bed', 'book', 'bottle', 'box', 'cabinet', 'chair', 'door', 'lamp', 'monitor', 'mug',
           'plant', 'refrigerator', 'shelf', 'sofa', 'table', 'trash can', 'tv')
PHRASINGS = Path(__file__).parent / 'phrasings'


@pytest.fixture(scope='module')
def lex():
    return Lexicon(CLASSES)


@pytest.mark.parametrize('question, program', [
    ('Where is the mug?', 'where(mug)'),
    ('Where is the sofa located?', 'where(sofa)'),
    ('How many chairs are there?', 'count(chair)'),
    ('Count the chairs.', 'count(chair)'),
    ('How far is the sofa from the tv?', 'distance(sofa, tv)'),
    ("how far's the fridge from the TV set", 'distance(refrigerator, tv)'),
    ('What is the distance between the couch and the television in feet?',
     'distance(sofa, tv; unit=ft)'),
    ('How big is this room?', 'room_area()'),
    ('how big is the room in square feet', 'room_area(unit=ft2)'),
    ('How big is the sofa?', 'size(sofa)'),
    ('What objects are in the room?', 'list()'),
    ('Is there a tv?', 'exists(tv)'),
    ('Are there any bins here?', 'exists(trash can)'),
    ('how far am I from the door?', 'distance(robot, door)'),
    ('what is the nearest chair', 'nearest(chair)'),
    ('which chair is closest to the table', 'nearest(chair, table)'),
    ("what's near the sofa?", 'near(sofa)'),
    ("What's within two meters of the bed?", 'near(bed; radius=2)'),
    ('when did you last see the mug', 'last_seen(mug)'),
    ('Is the door to my left or right?', 'direction(door)'),
    ('wher is the chiar', 'where(chair)'),
    ('how mnay shelves are there', 'count(shelf)'),
    ('the mug?', 'where(mug)'),
    # a compound is named by its head; a comma keeps two names apart
    ('how many display shelves are there', 'count(shelf)'),
    ('how far is the flat-screen TV from the lamp table', 'distance(tv, table)'),
    ('Get pairwise distance: toolbox, monitor.', 'distance(box, monitor)'),
    # slips of speech recognition where the word cannot stand
    ('wear is the fridge', 'where(refrigerator)'),
    ('is their a mug in here', 'exists(mug)'),
    ('hoe many beds do you see', 'count(bed)'),
    ('how fur is the sofa from the door', 'distance(sofa, door)'),
    ('ok robot where is the big door', 'where(door)'),
    ('how big sofa', 'size(sofa)'),
    ('how many hours ago did you see the door', 'last_seen(door)'),
    ('how many square meters we talking', 'room_area(unit=m2)'),
    ('Do you have any idea where the chair might be?', 'where(chair)'),
])
def test_everyday_phrasings(lex, question, program):
    assert parse_rules(question, lex).text == program


VSI = [
    ('How many chair(s) are in this room?', 'count(chair)'),
    ('How many box(s) are in this room?', 'count(box)'),
    ('Measuring from the closest point of each object, what is the direct distance between '
     'the sofa and the lamp (in meters)?', 'distance(sofa, lamp; unit=m)'),
    ('What is the length of the longest dimension (length, width, or height) of the table, '
     'measured in centimeters?', 'size(table; unit=cm)'),
    ('What is the size of this room (in square meters)? If multiple rooms are shown, '
     'estimate the size of the combined space.', 'room_area(unit=m2)'),
    ('Where is the mug? Give its 3D bounding box.', 'where(mug)'),
    ('Measuring from the closest point of each object, which of these objects (sofa, lamp, '
     'tv, chair) is the closest to the bed?\nA. sofa\nB. lamp\nC. tv\nD. chair',
     'rel_distance(sofa, lamp, tv, chair, bed; options=4)'),
    ('If I am standing by the mug and facing the tv, is the sofa to my left, right, or back? '
     'An object is to my back if I would have to turn at least 135 degrees in order to face '
     'it.\nA. left\nB. right\nC. back', 'rel_direction(mug, tv, sofa; options=3)'),
    ('You are a robot beginning at the bed facing the tv. You want to navigate to the sofa. '
     "You will perform the following actions (Note: for each [please fill in], choose either "
     "'turn back,' 'turn left,' or 'turn right.'): 1. [please fill in] 2. Go forward until "
     'the sofa. You have reached the final destination.\nA. turn left\nB. turn right',
     'route(bed, tv, sofa; options=2)'),
    ('What will be the first-time appearance order of the following categories in the video: '
     'sofa, chair, tv, lamp?\nA. sofa, chair, tv, lamp\nB. chair, sofa, tv, lamp',
     'appearance_order(sofa, chair, tv, lamp; options=2)'),
]


@pytest.mark.parametrize('question, program', VSI)
def test_vsi_bench_templates(lex, question, program):
    parsed = parse_rules(question, lex)
    assert parsed.text == program
    # the benchmark wording the LLM is asked in reads back as the same program
    again = parse_rules(vsi_question(parsed), lex)
    assert again.key() == parsed.key() and again.options == parsed.options


@pytest.mark.parametrize('question, name', [
    ('Where is the piano?', 'piano'), ('how many unicorns are in this room?', 'unicorn'),
    ('how far is the grand piano from the sofa', 'grand piano'),
    ('Could you tell me where my keys are?', 'key'), ('is there a bicycle', 'bicycle'),
    ("I dropped my scarf near the bed, where's my scarf?", 'scarf'),
    ('Compute distance between blender and table in metres.', 'blender'),
])
def test_unknown_category_is_refused_with_suggestions(lex, question, name):
    with pytest.raises(QueryError) as err:
        parse_rules(question, lex)
    assert err.value.status == UNKNOWN_CATEGORY
    assert f'"{name}" is not a category' in str(err.value) and 'closest known' in str(err.value)


def test_not_a_spatial_question(lex):
    assert parse_rules('Sing me a song.', lex) is None
    with pytest.raises(QueryError) as err:
        understand('Sing me a song.', lex)
    assert err.value.status == CANNOT_PARSE and 'where is the mug' in str(err.value)


def test_lexicon_names_plurals_typos(lex):
    assert plural('shelf') == 'shelves' and plural('trash can') == 'trash cans'
    assert plural('couch') == 'couches' and plural('tv') == 'tvs'
    for name, label in [('couch', 'sofa'), ('fridge', 'refrigerator'), ('TV', 'tv'),
                        ('television', 'tv'), ('bin', 'trash can'), ('trashcan', 'trash can'),
                        ('shelves', 'shelf'), ('TVs', 'tv'), ('refridgerator', 'refrigerator'),
                        ('chair(s)', 'chair')]:
        assert lex.resolve(name).label == label, name
    with pytest.raises(QueryError, match='closest known: .*sofa'):
        lex.resolve('sofabed thing')
    assert lex.typo('cats') is None  # short words are never corrected (cats is not cans)


def test_a_class_of_the_vocabulary_keeps_its_own_name():
    lex = Lexicon(('sofa', 'couch'))  # a model trained on data naming both
    assert lex.resolve('couch').label == 'couch' and lex.resolve('settee').label == 'sofa'


def test_structured_requests(lex):
    p = structured('distance', ['robot'][:0] + ['TV'], 'robot', 'ft', lex)
    assert p.text == 'distance(robot, tv; unit=ft)' and p.source == 'structured'
    assert structured('nearest', ['chair'], '', '', lex).reference == 'robot'
    assert structured('count', ['couches'], '', '', lex).text == 'count(sofa)'
    with pytest.raises(QueryError, match='unknown query kind'):
        structured('teleport', ['chair'], '', '', lex)
    with pytest.raises(QueryError, match='takes 1 object'):
        structured('count', [], '', '', lex)
    with pytest.raises(QueryError, match='unit .* does not fit'):
        structured('count', ['chair'], '', 'cm', lex)
    with pytest.raises(QueryError) as err:
        structured('where', ['piano'], '', '', lex)
    assert err.value.status == UNKNOWN_CATEGORY


def test_program_text_round_trip_and_grammar(lex):
    pattern = regex.compile(program_pattern(CLASSES))
    rng = np.random.default_rng(3)
    for _ in range(300):
        _, program = random_phrasing(rng, CLASSES)
        text = program.text
        assert pattern.fullmatch(text), text
        assert parse_program_text(text, lex.resolve).key() == program.key()
    assert pattern.fullmatch('distance(robot, trash c', partial=True)
    assert not pattern.fullmatch('distance(robot, piano', partial=True)
    assert not pattern.fullmatch('count()')


def test_training_phrasings_parse(lex):
    """Every wording of the training bank reads as the program it was written for."""
    rng = np.random.default_rng(0)
    for _ in range(500):
        question, program = random_phrasing(rng, CLASSES)
        got = parse_rules(question, lex)
        assert got is not None and got.key() == program.key(), question


@pytest.mark.parametrize('split, names', [('dev', 'names.json'), ('dev2', 'names2.json'),
                                          ('dev3', 'names3.json')])
def test_dev_phrasing_sets_parse(split, names):
    """The development sets (written blind, then used to write the rules; heldout is only
    reported by ``geode-bench phrasings``)."""
    lex = Lexicon(CLASSES)
    qs = instantiate(load_templates(PHRASINGS / f'{split}.jsonl'),
                     load_names(PHRASINGS / names, split), np.random.default_rng(0), list(CLASSES))
    right = 0
    for q in qs:
        try:
            got, status = parse_rules(q.question, lex), ''
        except QueryError as exc:
            got, status = None, exc.status
        if q.expect:
            right += status == q.expect or (q.expect == 'cannot_parse' and got is None)
        else:
            right += got is not None and got.key() == Program(
                q.kind, tuple(lex.resolve(c) for c in q.labels), q.reference, q.unit,
                got.radius_m, dimension=got.dimension).key()  # as geode-bench phrasings
    assert right / len(qs) >= 0.98, f'{split}: {right} of {len(qs)} right'


def test_split_options():
    assert split_options('Which?\nA. sofa\nB. lamp') == [('A', 'sofa'), ('B', 'lamp')]
    assert split_options('Which?\nB. sofa') == []
