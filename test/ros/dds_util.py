"""Shared helpers of the DDS tests: a node process, a test peer node, a synthetic camera.

``node_process`` runs ``python -m geode_ros.cli.node`` (what ``geode-node`` runs) with
parameters; ``Peer`` is this process's own ROS node on a private context (service calls,
``geode/status``); ``Camera`` adds publishers for a synthetic RGB-D camera turning inside
the 4 m x 5 m box room of ``ros_room`` (poses on a PoseStamped topic or /tf).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rclpy
import ros_room as room
from geode_ros.srv import SpatialQuery
from geometry_msgs.msg import PoseStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import String

from geode_ros.cli.common import interrupt_process
from geode_ros.ros.conversions import make_header, matrix_to_pose_msg
from geode_ros.scene.image_codec import encode_image

ROOM_QUESTION = 'What is the size of this room (in square meters)?'
CAMERA_FRAME = 'camera_color_optical_frame'
TOPICS = {'rgb': 'test_cam/rgb', 'depth': 'test_cam/depth', 'camera_info': 'test_cam/info',
          'pose': 'test_cam/pose'}
WAIT = 60.0  # s: discovery and first replies on a loaded 2-core machine
MODEL = Path(__file__).resolve().parents[2] / 'models' / 'geode-tiny'


def node_args(params: dict[str, Any], topics: dict[str, str] | None = None) -> list[str]:
    """argv of a geode_node process with ``params`` and input ``topics`` (default TOPICS)."""
    args = [sys.executable, '-m', 'geode_ros.cli.node', '--ros-args']
    args += [a for key, value in params.items() for a in ('-p', f'{key}:={value}')]
    topics = TOPICS if topics is None else topics
    return args + [a for key, topic in topics.items() for a in ('-p', f'topics.{key}:={topic}')]


@contextlib.contextmanager
def node_process(params: dict[str, Any], topics: dict[str, str] | None = None,
                 log: Path | None = None) -> Iterator[subprocess.Popen]:
    """A geode_node process; Ctrl-C'd on exit, its output printed (or left in ``log``)."""
    args = node_args(params, topics)
    if log is not None:
        with log.open('w') as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    else:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    try:
        yield proc
    finally:
        interrupt_process(proc)
        if log is None and proc.stdout:
            print(proc.stdout.read())


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT, what: str = '') -> Any:
    """The first truthy ``predicate()`` within ``timeout`` s, else the test fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f'timed out after {timeout:.0f} s waiting for {what or predicate}')


def sensor_qos(reliability: str = 'reliable', depth: int = 10) -> QoSProfile:
    policy = (ReliabilityPolicy.RELIABLE if reliability == 'reliable'
              else ReliabilityPolicy.BEST_EFFORT)
    return QoSProfile(depth=depth, reliability=policy)


class Peer:
    """This process's ROS node: service calls, ``geode/status``; spun on a thread."""

    def __init__(self, name: str) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.client = self.node.create_client(SpatialQuery, 'geode/query')
        self.status: dict = {}
        self.node.create_subscription(String, 'geode/status', self._on_status, 10)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_status(self, msg: String) -> None:
        self.status = json.loads(msg.data)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)

    def call(self, client: Any, request: Any, timeout: float = WAIT) -> Any:
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _: done.set())
        assert done.wait(timeout), f'no reply to {request}'
        return future.result()

    def query(self, question: str, target_frame: str = '', **fields: Any) -> Any:
        """Ask over DDS: a question, or (question empty) the structured ``fields``."""
        assert self.client.wait_for_service(timeout_sec=WAIT), 'geode/query never appeared'
        return self.call(self.client, SpatialQuery.Request(
            question=question, target_frame=target_frame, **fields))

    def wait_status(self, predicate: Callable[[dict], bool], timeout: float = WAIT) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status and predicate(self.status):
                return self.status
            time.sleep(0.1)
        pytest.fail(f'status never satisfied the condition; last status: {self.status}')

    def wait_subscribed(self, pubs: dict[str, Any]) -> None:
        """Until the service is up and the node subscribes every publisher in ``pubs``."""
        assert self.client.wait_for_service(timeout_sec=WAIT), 'geode/query never appeared'
        wait_until(lambda: all(p.get_subscription_count() > 0 for p in pubs.values()),
                   what='geode_node to subscribe the camera topics')


class Camera(Peer):
    """Publishes the synthetic camera (``reliability`` of its sensor publishers)."""

    def __init__(self, topics: dict[str, str] | None = None, use_tf: bool = False,
                 reliability: str = 'reliable') -> None:
        """Publish on ``topics`` (default TOPICS); camera poses on /tf when ``use_tf``."""
        super().__init__('geode_test_camera')
        topics = topics or TOPICS
        self.use_tf = use_tf
        n, qos = self.node, sensor_qos(reliability)
        self.pubs = {
            'rgb': n.create_publisher(Image, topics['rgb'], qos),
            'depth': n.create_publisher(Image, topics['depth'], qos),
            'camera_info': n.create_publisher(CameraInfo, topics['camera_info'], qos),
        }
        if use_tf:
            from tf2_msgs.msg import TFMessage

            self.tf_pub = n.create_publisher(TFMessage, '/tf', 100)
        else:
            self.pubs['pose'] = n.create_publisher(PoseStamped, topics['pose'], qos)
        self.answers: list[str] = []
        self.clouds: list[PointCloud2] = []
        n.create_subscription(PointCloud2, 'geode/cloud', self.clouds.append, 1)
        n.create_subscription(String, 'geode/answer', lambda m: self.answers.append(m.data), 10)
        self.stamp = 100.0
        self.poses = True  # False: images without their camera poses

    def wait_connected(self) -> None:
        self.wait_subscribed(self.pubs)

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
        if not self.poses:
            pass
        elif self.use_tf:
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

    def turn(self, frames: int = 18, step_deg: float = 20.0, pause: float = 0.05,
             timeout: float = WAIT) -> float:
        """Publish ``frames`` frames turning by ``step_deg``; wait until the node has taken
        the last one; its stamp."""
        last = 0.0
        for k in range(frames):
            last = self.publish_frame(np.radians(step_deg * k))
            time.sleep(pause)
        self.wait_status(lambda s: s['node']['last_stamp'] >= last - 0.2, timeout)
        return last


def tf_message(parent: str, child: str, T: np.ndarray, stamp: float) -> Any:
    """A tf2_msgs/TFMessage with one transform (parent <- child)."""
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage

    from geode_ros.ros.conversions import matrix_to_transform_msg

    return TFMessage(transforms=[TransformStamped(
        header=make_header(parent, stamp), child_frame_id=child,
        transform=matrix_to_transform_msg(T))])
