"""geode_node end to end over real DDS: a node process, a synthetic RGB-D camera here.

The node runs as ``python -m geode_ros.cli.node`` (what ``geode-node`` runs) with
the geometric baseline; this process publishes a camera turning inside a 4 m x 5 m
box room (poses on a PoseStamped topic) and calls ``geode/query``. Waits are
generous and nothing asserts on speed beyond "keeps up at 15 Hz with slack".
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('geode_ros.srv')
import ros_room as room  # noqa: E402
from geode_ros.srv import SpatialQuery  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, PointCloud2  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from geode_ros.ros.conversions import make_header, matrix_to_pose_msg  # noqa: E402
from geode_ros.scene.image_codec import encode_image  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(240)]

ROOM_QUESTION = 'What is the size of this room (in square meters)?'
CAMERA_FRAME = 'camera_color_optical_frame'
TOPICS = {'rgb': 'test_cam/rgb', 'depth': 'test_cam/depth', 'camera_info': 'test_cam/info',
          'pose': 'test_cam/pose'}
WAIT = 60.0  # s: discovery and first replies on a loaded 2-core machine


class Camera:
    """Test-side ROS node: publishes the synthetic camera, calls the service, reads status."""

    def __init__(self, topics: dict[str, str] | None = None, use_tf: bool = False) -> None:
        """Publish on ``topics`` (default TOPICS); camera poses on /tf when ``use_tf``."""
        topics = topics or TOPICS
        self.use_tf = use_tf
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('geode_e2e_camera', context=self.context)
        n = self.node
        self.pubs = {
            'rgb': n.create_publisher(Image, topics['rgb'], 10),
            'depth': n.create_publisher(Image, topics['depth'], 10),
            'camera_info': n.create_publisher(CameraInfo, topics['camera_info'], 10),
        }
        if use_tf:
            from tf2_msgs.msg import TFMessage

            self.tf_pub = n.create_publisher(TFMessage, '/tf', 100)
        else:
            self.pubs['pose'] = n.create_publisher(PoseStamped, topics['pose'], 10)
        self.client = n.create_client(SpatialQuery, 'geode/query')
        self.change_state = n.create_client(ChangeState, 'geode_node/change_state')
        self.status: dict = {}
        self.answers: list[str] = []
        self.clouds: list[PointCloud2] = []
        n.create_subscription(PointCloud2, 'geode/cloud', self.clouds.append, 1)
        n.create_subscription(String, 'geode/status', self._on_status, 10)
        n.create_subscription(String, 'geode/answer', lambda m: self.answers.append(m.data), 10)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(n)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        self.stamp = 100.0

    def _on_status(self, msg: String) -> None:
        self.status = json.loads(msg.data)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)

    def wait_connected(self) -> None:
        assert self.client.wait_for_service(timeout_sec=WAIT), 'geode/query never appeared'
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if all(p.get_subscription_count() > 0 for p in self.pubs.values()):
                return
            time.sleep(0.1)
        pytest.fail('geode_node never subscribed to the camera topics')

    def publish_frame(self, yaw: float, dt: float = 1.0 / 15.0) -> float:
        """One frame of the test room seen along ``yaw``; returns its stamp."""
        T = room.camera_pose(yaw)
        depth = room.render_depth(T)
        return self.publish_rgbd(T, room.render_rgb(depth), depth,
                                 (room.FOCAL, room.FOCAL, room.WIDTH / 2, room.HEIGHT / 2), dt)

    def publish_rgbd(self, T: np.ndarray, rgb: np.ndarray, depth: np.ndarray,
                     fxfycxcy: tuple[float, float, float, float], dt: float = 1.0 / 15.0
                     ) -> float:
        """Pose (topic or /tf) first, then RGB + depth (16UC1 mm) + CameraInfo with one
        stamp; returns the stamp."""
        self.stamp += dt
        header = make_header(CAMERA_FRAME, self.stamp)
        if self.use_tf:
            self.tf_pub.publish(tf_message('map', CAMERA_FRAME, T, self.stamp))
        else:
            self.pubs['pose'].publish(PoseStamped(header=make_header('map', self.stamp),
                                                  pose=matrix_to_pose_msg(T)))
        time.sleep(0.005)  # let the pose land before its images (different callback groups)
        depth_mm = np.where(np.isfinite(depth), np.round(depth * 1000.0), 0).astype(np.uint16)
        self.pubs['rgb'].publish(Image(header=header, **encode_image(rgb, 'rgb8')))
        self.pubs['depth'].publish(Image(header=header, **encode_image(depth_mm, '16UC1')))
        fx, fy, cx, cy = fxfycxcy
        height, width = depth.shape
        self.pubs['camera_info'].publish(CameraInfo(
            header=header, width=width, height=height, distortion_model='plumb_bob',
            k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]))
        return self.stamp

    def call(self, client, request, timeout: float = WAIT):
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _: done.set())
        assert done.wait(timeout), f'no reply to {request}'
        return future.result()

    def query(self, question: str, target_frame: str = '', **fields):
        """Ask over DDS: a question, or (question empty) the structured ``fields``."""
        return self.call(self.client, SpatialQuery.Request(
            question=question, target_frame=target_frame, **fields))

    def wait_status(self, predicate, timeout: float = WAIT) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status and predicate(self.status):
                return self.status
            time.sleep(0.1)
        pytest.fail(f'status never satisfied the condition; last status: {self.status}')


def tf_message(parent: str, child: str, T: np.ndarray, stamp: float):
    """A tf2_msgs/TFMessage with one transform (parent <- child)."""
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage

    from geode_ros.ros.conversions import matrix_to_transform_msg

    return TFMessage(transforms=[TransformStamped(
        header=make_header(parent, stamp), child_frame_id=child,
        transform=matrix_to_transform_msg(T))])


@pytest.fixture(scope='module')
def node_process():
    args = [sys.executable, '-m', 'geode_ros.cli.node', '--ros-args', '-p', 'model:=none',
            '-p', 'pose_source:=topic', '-p', 'status_period:=0.25', '-p', 'sync_slop:=0.02',
            '-p', 'pose_max_age:=0.05', '-p', 'log_throttle:=1.0', '-p', 'cloud_period:=0.5']
    args += [a for key, topic in TOPICS.items() for a in ('-p', f'topics.{key}:={topic}')]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C: a normal exit
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        output = proc.stdout.read() if proc.stdout else ''
        print(output)


@pytest.fixture(scope='module')
def camera(node_process):
    cam = Camera()
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


def test_node_exits_cleanly_on_ctrl_c(node_process, camera):
    node_process.send_signal(signal.SIGINT)
    assert node_process.wait(timeout=30) == 0
