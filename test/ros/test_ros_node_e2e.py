"""geode_node end to end over real DDS: a node process, a synthetic RGB-D camera here.

The node runs as ``python -m geode_ros.cli.node`` (what ``geode-node`` runs) with
the geometric baseline; this process publishes a camera turning inside a 4 m x 5 m
box room (poses on a PoseStamped topic) and calls ``geode/query``. Waits are
generous and nothing asserts on speed beyond "keeps up at 15 Hz with slack".
"""

from __future__ import annotations

import math
import signal
import threading
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('geode_ros.srv')
from dds_util import (  # noqa: E402
    CAMERA_FRAME,
    ROOM_QUESTION,
    WAIT,
    Camera,
    node_process,
)
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope='module')
def node_proc():
    with node_process({'model': 'none', 'pose_source': 'topic', 'status_period': 0.25,
                       'sync_slop': 0.02, 'pose_max_age': 0.05, 'log_throttle': 1.0,
                       'cloud_period': 0.5}) as proc:
        yield proc


@pytest.fixture(scope='module')
def camera(node_proc):
    cam = Camera()
    cam.change_state = cam.node.create_client(ChangeState, 'geode_node/change_state')
    try:
        cam.wait_connected()
        yield cam
    finally:
        cam.close()


def test_query_before_any_frame_says_so(camera):
    reply = camera.query(ROOM_QUESTION)
    assert not reply.success
    assert 'empty' in reply.message and 'no frames yet' in reply.message
    assert reply.answer == '' and len(reply.values) == 0


def test_room_size_from_a_turning_camera(camera):
    # The camera keeps turning (at most four turns) until the room is covered: on a
    # loaded machine a frame whose pose has not arrived yet is dropped, as on a robot.
    for _ in range(4):
        for k in range(18):
            last = camera.publish_frame(math.radians(20 * k))
            time.sleep(0.05)
        status = camera.wait_status(lambda s, t=last: s['node']['last_stamp'] >= t - 0.2)
        reply = camera.query(ROOM_QUESTION)
        if reply.success and 14.0 < reply.values[0] < 26.0:
            break
    assert status['keyframes'] >= 10 and status['points'] > 1000
    assert reply.success, reply.message
    assert reply.message == '' and 'square meters' in reply.answer
    assert 14.0 < reply.values[0] < 26.0  # 4 m x 5 m room
    assert reply.header.frame_id == 'map'
    stamp = reply.header.stamp.sec + 1e-9 * reply.header.stamp.nanosec
    assert last - 0.25 <= stamp <= last + 1e-6  # the scene state the answer used


def test_answer_in_the_camera_frame(camera):
    reply = camera.query(ROOM_QUESTION, target_frame=CAMERA_FRAME)
    assert reply.success, reply.message
    assert reply.header.frame_id == CAMERA_FRAME


def test_unknown_question_fails_with_a_reason(camera):
    reply = camera.query('How many chairs are in the room?')
    assert not reply.success
    assert 'baseline' in reply.message and 'model' in reply.message


def test_bad_target_frame_fails_with_known_frames(camera):
    reply = camera.query(ROOM_QUESTION, target_frame='base_link')
    assert not reply.success
    assert "unknown target_frame 'base_link'" in reply.message and 'map' in reply.message


def test_empty_question_fails(camera):
    reply = camera.query('   ')
    assert not reply.success and 'question is empty' in reply.message
    assert 'no frames' not in reply.message


def test_keeps_up_at_camera_rate_while_answering(camera):
    """15 Hz for 4 s with queries running: every query answered, no backlog builds up."""
    replies, stop = [], threading.Event()

    def ask() -> None:
        while not stop.is_set():
            replies.append(camera.query(ROOM_QUESTION))
            time.sleep(0.2)

    before = camera.status['node']['ingested']
    asker = threading.Thread(target=ask)
    asker.start()
    period, published, t0 = 1.0 / 15.0, 0, time.monotonic()
    last = 0.0
    try:
        while time.monotonic() - t0 < 4.0:
            last = camera.publish_frame(math.radians(5.0 * published))
            published += 1
            time.sleep(max(0.0, t0 + published * period - time.monotonic()))
    finally:
        stop.set()
        asker.join(timeout=WAIT)
    # No growing backlog: the newest frame is processed shortly after the stream stops.
    status = camera.wait_status(lambda s: s['node']['last_stamp'] >= last - 0.2, timeout=30.0)
    processed = status['node']['ingested'] - before
    print(f'published {published} frames at 15 Hz, processed {processed}, '
          f'{len(replies)} answers; node counters {status["node"]}')
    assert processed >= 0.25 * published, (processed, published)
    assert len(replies) >= 3 and all(r.success for r in replies), [r.message for r in replies]
    stamps = [r.header.stamp.sec + 1e-9 * r.header.stamp.nanosec for r in replies]
    assert stamps == sorted(stamps) and stamps[-1] > stamps[0]  # answers track the live scene
    assert camera.answers and 'square meters' in camera.answers[-1]
    cloud = camera.clouds[-1]  # the fused scene, throttled to one per cloud_period
    assert cloud.header.frame_id == 'map' and cloud.width * cloud.height > 1000


def test_deactivate_and_reactivate(camera):
    def transition(tid: int) -> bool:
        req = ChangeState.Request()
        req.transition.id = tid
        return camera.call(camera.change_state, req).success

    assert camera.change_state.wait_for_service(timeout_sec=WAIT)
    assert transition(Transition.TRANSITION_DEACTIVATE)
    deadline = time.monotonic() + WAIT
    while camera.client.service_is_ready() and time.monotonic() < deadline:
        time.sleep(0.1)  # the service is destroyed on deactivate
    assert not camera.client.service_is_ready()
    assert transition(Transition.TRANSITION_ACTIVATE)
    assert camera.client.wait_for_service(timeout_sec=WAIT)
    reply = camera.query(ROOM_QUESTION)  # memory survives deactivate
    assert reply.success and 14.0 < reply.values[0] < 26.0


def test_node_exits_cleanly_on_ctrl_c(node_proc, camera):
    node_proc.send_signal(signal.SIGINT)
    assert node_proc.wait(timeout=30) == 0
