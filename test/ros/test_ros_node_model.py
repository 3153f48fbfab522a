"""geode_node with the shipped GEODE model, over real DDS: answers, boxes and markers.

Same synthetic camera as test_ros_node_e2e, but the node loads ``models/geode-tiny``
(committed in the repository), so the answer comes from the DRM + VLM + DRH path and
a grounding question must come back as a box and as RViz markers.
"""

from __future__ import annotations

import contextlib
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('geode_ros.srv')
from test_ros_node_e2e import TOPICS, WAIT, Camera  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from geode_ros.cli.common import interrupt_process  # noqa: E402

MODEL = Path(__file__).resolve().parents[2] / 'models' / 'geode-tiny'
pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(300)]


@contextlib.contextmanager
def node_with_model():
    """A geode_node process with the shipped model and a test camera subscribed to its
    markers: yields (camera, markers received, event set on each MarkerArray)."""
    assert (MODEL / 'manifest.json').is_file(), f'the shipped model is missing: {MODEL}'
    args = [sys.executable, '-m', 'geode_ros.cli.node', '--ros-args',
            '-p', f'model:={MODEL}', '-p', 'device:=cpu', '-p', 'pose_source:=topic',
            '-p', 'status_period:=0.25', '-p', 'sync_slop:=0.02', '-p', 'pose_max_age:=0.05']
    args += [a for key, topic in TOPICS.items() for a in ('-p', f'topics.{key}:={topic}')]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
        interrupt_process(proc)
        print(proc.stdout.read() if proc.stdout else '')


@pytest.fixture(scope='module')
def model_node():
    with node_with_model() as handles:
        yield handles


def test_model_answers_numbers_and_boxes_with_markers(model_node):
    cam, markers, got = model_node
    last = 0.0
    for k in range(18):
        last = cam.publish_frame(math.radians(20 * k))
        time.sleep(0.05)
    cam.wait_status(lambda s: s['node']['last_stamp'] >= last - 0.2 and s['keyframes'] >= 5)

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

    bad = cam.query('Tell me a joke about robots.')
    assert not bad.success and 'cannot parse the question' in bad.message
    assert bad.status == 'cannot_parse'
