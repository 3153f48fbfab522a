"""Fault injection on a GeodeNode with the shipped model: each fault is a success:false reply
with a message saying why, and the node keeps answering afterwards.

Callbacks are called in this process with real messages (as test_ros_node_unit does);
the README's fault-injection table is this test's printed output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('geode_ros.srv')
import ros_room as room  # noqa: E402
import torch  # noqa: E402
from geode_ros.srv import SpatialQuery  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from test_poison_inputs import _frame, _images, _info, _pose_msg  # noqa: E402

MODEL = Path(__file__).resolve().parents[2] / 'models' / 'geode-tiny'
ROOM = 'What is the size of this room (in square meters)?'
pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope='module')
def node():
    from geode_ros.ros.node import GeodeNode

    context = rclpy.Context()
    rclpy.init(context=context)
    params = [Parameter('pose_source', value='topic'), Parameter('pose_max_age', value=0.02),
              Parameter('model', value=str(MODEL)), Parameter('device', value='cpu')]
    n = GeodeNode(context=context, parameter_overrides=params)
    assert n.trigger_configure().name == 'SUCCESS' and n.trigger_activate().name == 'SUCCESS'
    yield n
    n.destroy_node()
    rclpy.try_shutdown(context=context)


def _ask(node, question):
    assert node._pipeline.worker.wait_idle()  # the ingest thread has taken every frame
    return node._on_query(SpatialQuery.Request(question=question), SpatialQuery.Response())


def test_each_fault_fails_with_a_reason_and_the_node_keeps_answering(node):
    table = []

    def fault(name, reply, expect):
        assert not reply.success, (name, reply.answer)
        assert expect in reply.message, (name, reply.message)
        assert reply.answer == '' and len(reply.values) == 0 and len(reply.boxes) == 0
        table.append((name, reply.message))

    fault('empty memory', _ask(node, ROOM), 'scene memory is empty')
    for k in range(4):  # NaN depth: every frame rejected, memory stays empty
        s = 1.0 + 0.1 * k
        T = room.camera_pose(np.radians(30 * k))
        node._on_pose(_pose_msg(T, s))
        nan_depth = np.full((room.HEIGHT, room.WIDTH), np.nan, np.float32)
        node._pipeline.on_rgbd(*_images(T, s, nan_depth), _info(s))
    assert node._pipeline.worker.wait_idle()
    assert node.status()['node']['rejected_depth_invalid'] == 4
    fault('NaN depth', _ask(node, ROOM), 'scene memory is empty')
    s = 50.0  # missing TF: images with no camera pose anywhere near their stamp
    node._pipeline.on_rgbd(*_images(room.camera_pose(0.0), s), _info(s))
    fault('missing TF / pose', _ask(node, ROOM), 'scene memory is empty')

    for k in range(12):
        _frame(node, k)
    ok = _ask(node, ROOM)
    assert ok.success and len(ok.values) == 1, ok.message
    fault('over-long question', _ask(node, ROOM + ' Please.' * 300), 'question too long')
    unknown = _ask(node, 'How many unicorns are in this room?')
    assert unknown.status == 'unknown_category'
    fault('unknown object', unknown, 'not a category this model knows')
    fault('unparseable question', _ask(node, 'Sing me a song.'), 'cannot parse')

    # model exception: a DRH layer with a broken weight, hit by the LLM's estimate of a
    # distance between objects this empty room does not hold
    model = node.engine.reasoner
    layer = next(m for m in model.drh.modules() if isinstance(m, torch.nn.Linear))
    good = layer.weight
    layer.weight = torch.nn.Parameter(torch.zeros(1, 1))
    try:
        fault('model exception', _ask(node, 'How far is the sofa from the tv?'),
              'model failure')
    finally:
        layer.weight = good
    again = _ask(node, ROOM)  # alive and answering as before
    assert again.success and again.values == pytest.approx(ok.values, rel=1e-4)
    print('\n| fault | reply (success: false) |\n|---|---|')
    for name, message in table:
        print(f'| {name} | {message[:160]} |')
