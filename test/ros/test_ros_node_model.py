"""geode_node with the shipped GEODE model, over real DDS: answers, boxes and markers.

Same synthetic camera as test_ros_node_e2e, but the node loads ``models/geode-tiny``
(committed in the repository), so the answer comes from the DRM + VLM + DRH path and
a grounding question must come back as a box and as RViz markers.
"""

from __future__ import annotations

import contextlib
import threading

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('geode_ros.srv')
from dds_util import MODEL, WAIT, Camera, node_process  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(300)]


@contextlib.contextmanager
def node_with_model():
    """A geode_node process with the shipped model and a test camera subscribed to its
    markers: yields (camera, markers received, event set on each MarkerArray)."""
    assert (MODEL / 'manifest.json').is_file(), f'the shipped model is missing: {MODEL}'
    params = {'model': MODEL, 'device': 'cpu', 'pose_source': 'topic', 'status_period': 0.25,
              'sync_slop': 0.02, 'pose_max_age': 0.05}
    with node_process(params):
        cam = Camera()
        markers: list[MarkerArray] = []
        got = threading.Event()

        def on_markers(msg: MarkerArray) -> None:
            markers.append(msg)
            got.set()

        cam.node.create_subscription(MarkerArray, 'geode/markers', on_markers, 10)
        try:
            cam.wait_connected()
            yield cam, markers, got
        finally:
            cam.close()


@pytest.fixture(scope='module')
def model_node():
    with node_with_model() as handles:
        yield handles


def test_model_answers_numbers_and_boxes_with_markers(model_node):
    cam, markers, got = model_node
    cam.turn()
    cam.wait_status(lambda s: s['keyframes'] >= 5)

    # the test room is empty: nothing is detected, so a count is 0 (never a guess) and
    # agrees with where and exists
    count = cam.query('How many chair(s) are in this room?')
    assert count.success and count.status == 'ok', count.message
    assert list(count.values) == [0.0] and list(count.units) == ['count']
    assert count.answer == 'I see no chairs.' and count.program == 'count(chair)'
    exists = cam.query('', kind='exists', objects=['chair'])  # the structured form
    assert exists.success and list(exists.values) == [0.0] and exists.kind == 'exists'

    got.clear()
    # the test room is empty: a grounding question is answered "not found" with no box,
    # and the markers of earlier answers are cleared
    where = cam.query('Where is the sofa? Give its 3D bounding box.')
    assert where.success, where.message
    assert len(where.boxes) == 0 and where.answer.startswith('No sofa found'), where.answer
    assert where.header.frame_id == 'map'
    assert got.wait(WAIT), 'no MarkerArray after an answer'
    assert [m.action for m in markers[-1].markers] == [Marker.DELETEALL]

    # the rules cannot read a joke request: the shipped VLM either declines it or writes a
    # program, and then the answer names that reading so a wrong one shows
    joke = cam.query('Tell me a joke about robots.')
    if joke.success:
        assert joke.program and joke.answer.endswith(
            f'(I read the question as {joke.program})'), joke.answer
    else:
        assert joke.status == 'cannot_parse' and 'cannot parse' in joke.message
    bad = cam.query('', kind='juggle', objects=['chair'])
    assert not bad.success and bad.status == 'cannot_parse'
    assert "unknown query kind 'juggle'" in bad.message
