"""The SpatialQuery contract: question limits, no echo, no empty success, target_frame.

Pure functions first, then a GeodeNode's service callback called in this process
(the DDS round trip of the same callback is covered by test_launch.py).
"""

import math

import numpy as np
import pytest

from geode_ros.errors import GeodeError
from geode_ros.ros.query import (
    QUOTE_CHARS,
    check_question,
    fail_query_response,
    fill_query_response,
    quote,
    shorten_echoes,
)
from geode_ros.scene.geometry import invert_transform, pose_to_matrix, yaw_to_quat_xyzw
from geode_ros.scene.types import Answer

LONG = 'How far is the chair from the door? ' * 300  # 10,800 characters


def test_empty_question_says_so():
    for q in ('', '   ', '\n\t'):
        with pytest.raises(GeodeError, match='question is empty') as exc:
            check_question(q, 2000)
        assert 'no frames' not in str(exc.value)


def test_long_question_is_refused_short_without_echo():
    with pytest.raises(GeodeError) as exc:
        check_question(LONG, 2000)
    message = str(exc.value)
    assert 'too long' in message and str(len(LONG.strip())) in message and '2000' in message
    assert len(message) < 250
    quoted = message[message.index('"'):]
    assert len(quoted) <= QUOTE_CHARS + 2  # the quote marks


def test_question_at_the_limit_passes_stripped():
    q = 'x' * 2000
    assert check_question(f'  {q} ', 2000) == q


def test_quote_and_shorten_echoes():
    assert quote('short') == '"short"'
    assert len(quote(LONG)) == QUOTE_CHARS + 2 and quote(LONG).endswith('…"')
    echoed = f'cannot parse the question {LONG.strip()!r}: ask about sizes'
    short = shorten_echoes(echoed, LONG)
    assert len(short) < 200 and short.endswith('ask about sizes')
    assert shorten_echoes('fine', 'tiny question') == 'fine'


def _sofa_answer() -> Answer:
    """The answer of 'where is the sofa?' over a memory holding one sofa (yaw 30 deg)."""
    from geode_ros.query.execute import execute
    from geode_ros.query.lexicon import Lexicon
    from geode_ros.query.memory import MemoryObject, ObjectMemory
    from geode_ros.query.parse import parse_rules
    from geode_ros.query.pipeline import to_answer

    sofa = MemoryObject('sofa', 0.9, np.array([1.0, 2.0, 0.45, 0.8, 2.0, 0.9, math.radians(30)]),
                        last_seen=3.5)
    memory = ObjectMemory([sofa], ('sofa',), 20.0, None, 4.0, 'map')
    return to_answer(execute(parse_rules('where is the sofa?', Lexicon(('sofa',))), memory))


def test_answer_text_follows_the_boxes_into_target_frame():
    """The writer renders the answer again in the target frame: text and boxes agree."""
    from geode_ros.srv import SpatialQuery

    answer = _sofa_answer()
    assert answer.text == 'The sofa is at (1.00, 2.00, 0.45) in map, 0.80 x 2.00 x 0.90 m.'
    T_map_base = pose_to_matrix([0.5, -1.0, 0.0], yaw_to_quat_xyzw(math.radians(90)))
    T_base_map = invert_transform(T_map_base)
    r = fill_query_response(SpatialQuery.Response(), answer, 'base_link', T_base_map)
    c = T_base_map[:3, :3] @ np.array([1.0, 2.0, 0.45]) + T_base_map[:3, 3]
    assert np.allclose(c, [3.0, -0.5, 0.45], atol=1e-9)
    assert r.answer == 'The sofa is at (3.00, -0.50, 0.45) in base_link, 0.80 x 2.00 x 0.90 m.'
    assert r.boxes[0].pose.position.x == pytest.approx(3.0)
    assert r.status == 'ok' and r.program == 'where(sofa)' and r.kind == 'where'
    assert list(r.objects) == ['sofa'] and r.header.frame_id == 'base_link'
    assert r.boxes[0].last_seen.sec == 3 and r.boxes[0].last_seen.nanosec == 500_000_000
    same = fill_query_response(SpatialQuery.Response(), answer, 'map', None)
    assert same.answer == answer.text


def test_refusals_carry_status_and_what_was_understood():
    from geode_ros.srv import SpatialQuery

    from geode_ros.query.program import CANNOT_PARSE, Program, QueryError

    err = QueryError(CANNOT_PARSE, 'a count query takes 1 object(s), got 0', Program('count'))
    r = fail_query_response(SpatialQuery.Response(), str(err), 'odom', err)
    assert not r.success and r.status == 'cannot_parse' and r.kind == 'count'
    assert r.answer == '' and r.header.frame_id == 'odom' and list(r.values) == []
    r = fail_query_response(SpatialQuery.Response(), 'scene memory is empty', 'map')
    assert r.status == 'error' and r.program == ''


# ------------------------------------------------------------------ through the node

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('geode_ros.srv')
from test_ros_node_unit import OK, _ask, _room_cloud  # noqa: E402

from geode_ros.ros.conversions import cloud_to_msg, make_header  # noqa: E402


class SilentReasoner:
    """A SceneReasoner whose model decoded nothing (an end-of-turn token first)."""

    name = 'silent'

    def encode_keyframe(self, frame):
        return None

    def answer(self, question, snapshot):
        return Answer('', [], [], snapshot.frame_id, snapshot.stamp)


@pytest.fixture()
def room_node(make_node):
    node = make_node(pose_source='topic', max_question_chars=500, **{'topics.points': 'cloud'})
    assert node.trigger_configure() == OK and node.trigger_activate() == OK
    node._pipeline.on_points(cloud_to_msg(_room_cloud(), None, make_header('map', 5.0)))
    assert node._pipeline.worker.wait_idle()
    return node


def test_node_refuses_long_and_empty_questions(room_node):
    reply = _ask(room_node, LONG)
    assert not reply.success and reply.answer == '' and len(reply.message) < 250
    assert 'too long' in reply.message and '500' in reply.message
    reply = _ask(room_node, '  ')
    assert not reply.success and 'question is empty' in reply.message
    assert 'no frames' not in reply.message
    assert _ask(room_node).success  # the room question still works


def test_node_answers_structured_requests(room_node):
    """A planner sends the program's fields; the reply says how it was understood."""
    from geode_ros.srv import SpatialQuery

    def ask(**fields):
        return room_node._on_query(SpatialQuery.Request(**fields), SpatialQuery.Response())

    reply = ask(kind='room_area', unit='ft2')
    assert reply.success and reply.status == 'ok' and reply.program == 'room_area(unit=ft2)'
    assert list(reply.units) == ['ft2'] and 180 < reply.values[0] < 260  # a 5 x 4 m room
    reply = ask(kind='count', objects=['couch'])  # understood, but no detector is loaded
    assert not reply.success and reply.status == 'no_detector' and 'load a model' in \
        reply.message
    reply = ask(kind='where', objects=['piano'])
    assert not reply.success and reply.status == 'unknown_category'
    assert 'closest known' in reply.message
    reply = ask(kind='teleport', objects=['mug'])
    assert not reply.success and reply.status == 'cannot_parse'
    reply = ask()
    assert not reply.success and 'question is empty' in reply.message


def test_node_never_reports_success_with_an_empty_answer(room_node):
    room_node.engine.set_reasoner(SilentReasoner())
    reply = _ask(room_node)
    assert not reply.success and reply.answer == ''
    assert 'no answer text' in reply.message
