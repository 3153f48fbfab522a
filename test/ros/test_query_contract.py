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
    quote,
    shorten_echoes,
    text_in_frame,
)
from geode_ros.scene.geometry import invert_transform, pose_to_matrix, yaw_to_quat_xyzw
from geode_ros.scene.types import Answer, Box3D

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


def _box_text(x, y, z, yaw_deg):
    return (f'It is at center ({x:.2f}, {y:.2f}, {z:.2f}) m, size (0.80, 2.00, 0.90) m, '
            f'yaw {yaw_deg:.0f} deg.')


def test_text_in_frame_moves_box_coordinates_like_the_boxes():
    box = Box3D('sofa', np.array([1.0, 2.0, 0.45]), np.array([0.8, 2.0, 0.9]),
                math.radians(30))
    T_map_base = pose_to_matrix([0.5, -1.0, 0.0], yaw_to_quat_xyzw(math.radians(90)))
    T_base_map = invert_transform(T_map_base)
    text = text_in_frame(_box_text(1.0, 2.0, 0.45, 30), [box], T_base_map, 'base_link')
    c = T_base_map[:3, :3] @ box.center + T_base_map[:3, 3]  # (3.0, -0.5, 0.45)
    assert np.allclose(c, [3.0, -0.5, 0.45], atol=1e-9)
    assert text == _box_text(*c, -60)[:-1] + ' (frame base_link).'



def test_text_without_boxes_or_transform_is_unchanged():
    text = 'The room is 20.0 square meters.'
    assert text_in_frame(text, [], np.eye(4), 'base_link') == text
    box = Box3D('sofa', np.zeros(3), np.ones(3))
    assert text_in_frame(_box_text(0, 0, 0, 0), [box], None, 'map') == _box_text(0, 0, 0, 0)


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


def test_node_never_reports_success_with_an_empty_answer(room_node):
    room_node.engine.set_reasoner(SilentReasoner())
    reply = _ask(room_node)
    assert not reply.success and reply.answer == ''
    assert 'no answer text' in reply.message
