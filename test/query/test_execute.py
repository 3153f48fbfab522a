"""Programs executed over a hand-made object memory, and the answers the writer renders."""

import math

import numpy as np
import pytest

from geode_ros.query.config import QueryConfig
from geode_ros.query.execute import execute
from geode_ros.query.lexicon import Lexicon
from geode_ros.query.memory import MemoryObject, ObjectMemory, RobotPose
from geode_ros.query.parse import parse_rules
from geode_ros.query.program import AMBIGUOUS, NO_DETECTOR, NO_POSE, NOT_FOUND, OK, QueryError
from geode_ros.query.render import render

CLASSES = ('chair', 'door', 'mug', 'sofa', 'table', 'tv')


def obj(label, centre, size, score=0.9, first=math.inf, last=math.nan):
    return MemoryObject(label, score, np.array([*centre, *size, 0.0]), first, math.nan, last)


@pytest.fixture
def memory():
    """A 6 x 5 m room; the robot at (1, 1) looking along +x."""
    objects = [
        obj('sofa', (3.0, 4.0, 0.4), (2.0, 0.9, 0.8), 0.95, 0, 10.0),
        obj('tv', (3.0, 0.2, 0.9), (1.2, 0.1, 0.7), 0.9, 1, 12.5),
        obj('table', (3.0, 2.5, 0.37), (1.2, 0.8, 0.75), 0.9, 2, 14.0),
        obj('chair', (2.0, 2.5, 0.45), (0.5, 0.5, 0.9), 0.8, 2, 14.0),
        obj('chair', (4.5, 2.5, 0.45), (0.5, 0.5, 0.9), 0.75, 3, 15.0),
        obj('mug', (3.2, 2.6, 0.8), (0.1, 0.1, 0.12), 0.3, 3, 15.0),
    ]
    robot = RobotPose(np.array([1.0, 1.0, 1.2]), np.array([1.0, 0.0]), 16.0)
    return ObjectMemory(objects, CLASSES, 30.0, robot, 16.0, 'map')


def ask(question, memory, **cfg):
    program = parse_rules(question, Lexicon(CLASSES))
    return execute(program, memory, QueryConfig(**cfg))


def test_count_where_exists_list_agree(memory):
    """Over one memory the four kinds never contradict each other."""
    lex = Lexicon(CLASSES)
    for label in CLASSES + ('door',):
        n = ask(f'how many {lex.resolve(label).label}s are there?', memory).values[0]
        exists = ask(f'is there a {label}?', memory)
        where = ask(f'where is the {label}?', memory)
        listing = ask('what is in the room?', memory)
        counts = dict(zip(listing.detail['labels'], listing.values))
        assert exists.values[0] == float(n > 0)
        assert counts.get(label, 0.0) == n
        assert (where.status == NOT_FOUND) == (n == 0)


def test_count_of_undetected_class_is_zero(memory):
    r = ask('How many doors are in this room?', memory)
    assert r.values == [0.0] and r.status == OK
    assert render(r) == 'I see no doors.'
    r = ask('Where is the door?', memory)
    assert r.status == NOT_FOUND and render(r) == 'No door found in this scene.'
    assert render(ask('is there a door', memory)) == 'No, I have not seen any door.'


def test_distances(memory):
    r = ask('How far is the sofa from the tv in cm?', memory)
    assert r.values[0] == pytest.approx(100 * (3.55 - 0.25)) and r.units == ['cm']
    assert render(r) == 'The sofa is 330 cm from the tv.'
    r = ask('how far am I from the tv?', memory)  # floor plane, to the footprint
    assert r.values[0] == pytest.approx(math.hypot(2.4 - 1.0, 1.0 - 0.25))
    assert render(r).endswith('m from you.')


def test_ambiguous_referent_is_the_one_nearest_the_robot(memory):
    r = ask('where is the chair', memory)
    assert r.status == AMBIGUOUS and r.used[0].center[0] == pytest.approx(2.0)
    assert render(r).startswith('I see 2 chairs; the one nearest you is at (2.00, 2.50')
    r = ask('where are the chairs', memory)  # plural: all of them
    assert r.status == OK and len(r.used) == 2
    r = ask('where is the chair', memory, ambiguity_margin=0.01)  # 0.8 vs 0.75: clear now
    assert r.status == OK and r.used[0].score == pytest.approx(0.8)


def test_robot_kinds(memory):
    r = ask('what is the nearest chair', memory)
    assert r.used[0].center[0] == pytest.approx(2.0)
    r = ask('Is the sofa to my left or right?', memory)
    assert r.detail['side'] == 'left' and 0 < r.values[0] < 90
    assert render(r).startswith('The sofa is to your left (')
    r = ask('is the tv on my left or my right?', memory)
    assert r.detail['side'] == 'ahead'  # 2 m ahead, 0.8 m to the right: 22 deg
    r = ask('when did you last see the mug?', memory)
    assert r.values == [15.0] and r.detail['age_s'] == pytest.approx(1.0)
    memory.robot = None
    with pytest.raises(QueryError) as err:
        ask('how far am I from the tv?', memory)
    assert err.value.status == NO_POSE


def test_near_and_size(memory):
    r = ask("what's near the table?", memory)
    assert [o.label for o in r.used][:3] == ['table', 'mug', 'chair']
    assert sorted(o.label for o in r.used[3:]) == ['chair', 'sofa']  # both 0.65 m away
    r = ask('What is within half a meter of the table?', memory)
    assert [o.label for o in r.used][1:] == ['mug', 'chair']
    r = ask('how big is the sofa?', memory)
    assert r.values == [pytest.approx(2.0)] and r.units == ['m']
    assert render(r) == 'The sofa measures 2.00 x 0.90 x 0.80 m; its longest side is 2.00 m.'


def test_low_confidence_is_said(memory):
    memory.confident_score = 0.5
    r = ask('where is the mug', memory)
    assert r.low_confidence and render(r).endswith('(uncertain: detection score 0.30)')
    assert not ask('where is the sofa', memory).low_confidence


def test_a_vlm_reading_is_named_in_the_answer(memory):
    """The rules' reading speaks for itself; a program the VLM wrote is shown, so a
    wrong reading of the question shows in the answer."""
    rules = parse_rules('how many chairs are there', Lexicon(CLASSES))
    assert render(execute(rules, memory, QueryConfig())) == 'I see 2 chairs.'
    vlm = execute(rules.with_source('vlm'), memory, QueryConfig())
    assert render(vlm) == 'I see 2 chairs. (I read the question as count(chair))'


def test_choices(memory):
    q = ('Measuring from the closest point of each object, which of these objects (sofa, tv, '
         'mug) is the closest to the table?\nA. sofa\nB. tv\nC. mug')
    r = ask(q, memory)
    assert render(r) == 'C. mug'
    q = ('What will be the first-time appearance order of the following categories in the '
         'video: mug, sofa, tv?\nA. mug, sofa, tv\nB. sofa, tv, mug')
    assert render(ask(q, memory)) == 'B. sofa, tv, mug'


def test_frames_of_written_coordinates(memory):
    r = ask('where is the sofa', memory)
    T = np.eye(4)
    T[:3, 3] = (10.0, 0.0, 0.0)
    assert render(r, T, 'odom') == 'The sofa is at (13.00, 4.00, 0.40) in odom, 2.00 x 0.90 x ' \
        '0.80 m.'


def test_no_detector_refuses_object_kinds():
    memory = ObjectMemory([], (), 20.0, None, has_detector=False)
    with pytest.raises(QueryError) as err:
        ask('how many chairs are there', memory)
    assert err.value.status == NO_DETECTOR
    assert ask('how big is the room', memory).values == [20.0]


def test_every_kind_renders_when_its_object_is_missing(memory):
    """A missing object never breaks the writer, whatever the kind."""
    for q in ('where is the door', 'when did you last see the door', 'how big is the door',
              'how far am I from the door', 'what is near the door', 'is the door on my left',
              'what is the nearest door', 'how far is the door from the tv'):
        r = ask(q, memory)
        assert r.status == NOT_FOUND and 'No door found' in render(r), q
