"""``geode_node``: a lifecycle node that feeds RGB-D / clouds to the engine and answers queries.

Thin by design: messages are converted in ``conversions``, markers built in
``markers``, poses come from ``tf``; the scene memory and the model live in
``geode_ros.scene`` / ``geode_ros.model``.

Threads: sensor callbacks, pose callbacks, the query service and timers each
have their own mutually exclusive callback group on a multi-threaded executor,
so a slow answer never stalls ingestion (the engine itself is thread-safe).
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections import Counter
from typing import Any

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from geode_ros.errors import GeodeError
from geode_ros.ros.conversions import (
    check_answer_fits,
    check_question,
    cloud_from_msg,
    cloud_to_msg,
    fail_query_response,
    fill_query_response,
    header_stamp,
    make_header,
    rgbd_from_msgs,
)
from geode_ros.ros.markers import boxes_to_markers
from geode_ros.ros.params import NODE_NAME, NodeConfig, config_from_parameters, declare_parameters
from geode_ros.ros.sync import ApproximateTimeSync
from geode_ros.ros.tf import TopicPoseSource, make_pose_source
from geode_ros.scene.engine import SpatialQueryEngine

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


def _srv_type() -> Any:
    from geode_ros.srv import SpatialQuery

    return SpatialQuery


def load_model(cfg: NodeConfig) -> Any:
    """``GeodeModel.from_pretrained`` for ``cfg.model`` (imported lazily: torch is heavy)."""
    from geode_ros.model.geode import GeodeModel

    kwargs: dict[str, Any] = {}
    if cfg.device != 'auto':
        kwargs['device'] = cfg.device
    else:
        import torch

        kwargs['device'] = 'cuda' if torch.cuda.is_available() else 'cpu'
    if cfg.dtype != 'auto':
        kwargs['dtype'] = cfg.dtype
    if cfg.quantization not in ('', 'none'):
        kwargs['quantization'] = cfg.quantization
    return GeodeModel.from_pretrained(cfg.model, **kwargs)


def free_accelerator_memory() -> None:
    """Return cached CUDA memory to the driver (only when torch is already loaded)."""
    torch = sys.modules.get('torch')
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class GeodeNode(LifecycleNode):
    """Spatial question answering over a live RGB-D stream (see module docstring)."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare_parameters(self)
        self.cfg: NodeConfig | None = None
        self.engine: SpatialQueryEngine | None = None
        self._model: Any = None
        self._pose: Any = None
        self._pose_kind = ''
        self._sync: ApproximateTimeSync | None = None
        self._subs: list[Any] = []
        self._pubs: dict[str, Any] = {}
        self._timers: list[Any] = []
        self._srv: Any = None
        self._active = False
        self._sensor_group = MutuallyExclusiveCallbackGroup()
        self._pose_group = MutuallyExclusiveCallbackGroup()
        self._query_group = MutuallyExclusiveCallbackGroup()
        self._timer_group = MutuallyExclusiveCallbackGroup()
        self._counts: Counter[str] = Counter()
        self._last_stamp = 0.0
        self._last_warn: dict[str, float] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            cfg = config_from_parameters(self)
            model = load_model(cfg) if cfg.model else None
            self.engine = SpatialQueryEngine(cfg.scene, reasoner=model)
        except Exception as exc:  # a bad parameter or checkpoint: stay unconfigured
            self.get_logger().error(f'configure failed: {exc}')
            self.engine = None
            return FAILURE
        self.cfg, self._model = cfg, model
        reasoner = self.engine.stats()['reasoner']
        self.get_logger().info(f'configured: reasoner={reasoner}, '
                               f'fixed_frame={cfg.scene.fixed_frame}')
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        cfg = self.cfg
        assert cfg is not None
        try:
            self._create_interfaces(cfg)
        except Exception as exc:
            self.get_logger().error(f'activate failed: {exc}')
            self._destroy_interfaces()
            return FAILURE
        self._active = True
        self.get_logger().info(f'active: pose source {self._pose_kind}; serving geode/query')
        return SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._destroy_interfaces()
        free_accelerator_memory()
        return SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.engine, self._model, self.cfg = None, None, None
        free_accelerator_memory()
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._destroy_interfaces()
        self.engine, self._model = None, None
        return SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._destroy_interfaces()
        return SUCCESS

    def _create_interfaces(self, cfg: NodeConfig) -> None:
        qos = QoSProfile(depth=cfg.qos_depth, reliability=(
            ReliabilityPolicy.RELIABLE if cfg.qos_reliability == 'reliable'
            else ReliabilityPolicy.BEST_EFFORT), durability=qos_profile_sensor_data.durability,
            history=qos_profile_sensor_data.history)
        t = cfg.topics
        need_pose = cfg.use_rgbd or bool(t.points)
        if need_pose:
            self._pose_kind, self._pose, handles = make_pose_source(
                self, cfg.pose_source, t.pose, qos, self._pose_group, cfg.pose_max_age)
            self._subs.extend(handles)
        if cfg.use_rgbd:
            self._sync = ApproximateTimeSync(3, cfg.sync_queue, cfg.sync_slop, self._on_rgbd)
            for i, (mtype, topic) in enumerate(
                    ((Image, t.rgb), (Image, t.depth), (CameraInfo, t.camera_info))):
                self._subs.append(self.create_subscription(
                    mtype, topic, self._sync_input(i), qos, callback_group=self._sensor_group))
        if t.points:
            self._subs.append(self.create_subscription(
                PointCloud2, t.points, self._on_points, qos, callback_group=self._sensor_group))
        self._pubs = {
            'markers': self.create_publisher(MarkerArray, 'geode/markers', 10),
            'answer': self.create_publisher(String, 'geode/answer', 10),
            'status': self.create_publisher(String, 'geode/status', 10),
            'cloud': self.create_publisher(PointCloud2, 'geode/cloud', 1),
        }
        if cfg.status_period > 0:
            self._timers.append(self.create_timer(cfg.status_period, self._publish_status,
                                                  callback_group=self._timer_group))
        if cfg.cloud_period > 0:
            self._timers.append(self.create_timer(cfg.cloud_period, self._publish_cloud,
                                                  callback_group=self._timer_group))
        self._srv = self.create_service(_srv_type(), 'geode/query', self._on_query,
                                        callback_group=self._query_group)

    def _destroy_interfaces(self) -> None:
        for handle in self._subs:
            if hasattr(handle, 'unregister'):  # tf2_ros.TransformListener
                handle.unregister()
            else:
                self.destroy_subscription(handle)
        for timer in self._timers:
            self.destroy_timer(timer)
        for pub in self._pubs.values():
            self.destroy_publisher(pub)
        if self._srv is not None:
            self.destroy_service(self._srv)
        self._subs, self._timers, self._pubs, self._srv = [], [], {}, None
        self._pose, self._sync = None, None

    # ------------------------------------------------------------ sensors
    def _sync_input(self, index: int) -> Any:
        names = ('rgb', 'depth', 'camera_info')

        def add(msg: Any) -> None:
            self._counts[f'received_{names[index]}'] += 1
            sync = self._sync
            if sync is not None:
                try:
                    sync.add(index, header_stamp(msg), msg)
                except Exception as exc:  # never let one bad message kill the executor
                    self._warn('sync', f'dropped {names[index]} message: {exc}')
        return add

    def _on_rgbd(self, rgb: Image, depth: Image, info: CameraInfo) -> None:
        """A synchronised RGB + depth + CameraInfo set: decode, find the pose, ingest."""
        self._counts['synced'] += 1
        cfg, engine, pose = self.cfg, self.engine, self._pose
        if cfg is None or engine is None or pose is None:
            return
        stamp = header_stamp(rgb)
        try:
            camera_frame = cfg.camera_frame or rgb.header.frame_id
            T = pose.camera_pose(cfg.scene.fixed_frame, camera_frame, stamp)  # cheap: first
            rgb_a, depth_a, intr = rgbd_from_msgs(rgb, depth, info, cfg.scene.depth_scale_16u,
                                                  cfg.scene, T)
            if engine.ingest(rgb_a, depth_a, intr, T, stamp):
                self._counts['keyframes'] += 1
            self._processed(stamp)
        except GeodeError as exc:
            self._counts[f"rejected_{getattr(exc, 'reason', 'rgbd')}"] += 1  # InputRejected
            self._warn('rgbd', f'dropped RGB-D frame at t={stamp:.3f}: {exc}')
        except Exception as exc:
            self._warn('rgbd', f'unexpected error on RGB-D frame: {exc!r}')

    def _on_points(self, msg: PointCloud2) -> None:
        """A PointCloud2 in a sensor frame (or already in the fixed frame): fuse it."""
        self._counts['received_points'] += 1
        cfg, engine, pose = self.cfg, self.engine, self._pose
        if cfg is None or engine is None:
            return
        stamp = header_stamp(msg)
        try:
            fixed, frame = cfg.scene.fixed_frame, msg.header.frame_id.lstrip('/')
            if frame in ('', fixed):
                T = np.eye(4)
            elif pose is None:
                raise GeodeError('no pose source for the cloud frame')
            else:
                T = pose.camera_pose(fixed, frame, stamp)
            xyz, rgb = cloud_from_msg(msg, cfg.scene, T)
            engine.ingest_points(xyz, rgb, T, stamp)
            self._processed(stamp)
        except GeodeError as exc:
            self._counts[f"rejected_{getattr(exc, 'reason', 'points')}"] += 1
            self._warn('points', f'dropped PointCloud2 at t={stamp:.3f}: {exc}')
        except Exception as exc:
            self._warn('points', f'unexpected error on PointCloud2: {exc!r}')

    def _on_pose(self, msg: PoseStamped) -> None:
        """A camera pose from the pose topic (pose_source topic)."""
        self._counts['received_pose'] += 1
        if isinstance(self._pose, TopicPoseSource):
            try:
                self._pose.add_pose(msg)
            except GeodeError as exc:
                self._counts[f"rejected_{getattr(exc, 'reason', 'pose')}"] += 1
                self._warn('pose', f'dropped pose: {exc}')

    def _processed(self, stamp: float) -> None:
        with self._lock:
            self._counts['ingested'] += 1
            self._last_stamp = max(self._last_stamp, stamp)

    # ------------------------------------------------------------ queries
    def _on_query(self, request: Any, response: Any) -> Any:
        """Answer one SpatialQuery; every failure becomes success=false with a reason."""
        self._counts['queries'] += 1
        cfg, engine, pose = self.cfg, self.engine, self._pose
        if not self._active or cfg is None or engine is None:
            return fail_query_response(response, 'geode_node is not active: configure and '
                                       'activate it (lifecycle) before asking')
        fixed = cfg.scene.fixed_frame
        target = request.target_frame.strip().lstrip('/') or fixed
        try:
            T = None
            if target != fixed:
                if pose is None:
                    raise GeodeError(f'unknown target_frame {target!r}: no pose source; '
                                     f'use {fixed!r}')
                T = pose.transform(target, fixed)
            answer = engine.query(check_question(request.question))
            check_answer_fits(request.question, answer)  # a number for a numeric question ...
        except GeodeError as exc:
            return fail_query_response(response, self._explain(str(exc)), target)
        except Exception as exc:
            self.get_logger().error(f'model failure on {request.question!r}: {exc!r}')
            return fail_query_response(response, f'model failure: {type(exc).__name__}: {exc}',
                                       target)
        fill_query_response(response, answer, target, T)
        self._counts['answered'] += 1
        try:
            header = make_header(answer.frame_id, answer.stamp)
            self._pubs['markers'].publish(
                boxes_to_markers(answer.boxes, header, lifetime=cfg.marker_lifetime))
            self._pubs['answer'].publish(String(data=answer.text))
        except Exception as exc:  # publishers gone (deactivated meanwhile)
            self._warn('publish', f'could not publish answer: {exc!r}')
        return response

    def _explain(self, message: str) -> str:
        """Add what the node has received to engine errors about empty memory."""
        if 'empty' not in message:
            return message
        c, t = self._counts, self.cfg.topics if self.cfg else None
        if t is None:
            return message
        return (f'{message} (no frames yet: received rgb={c["received_rgb"]}, '
                f'depth={c["received_depth"]}, camera_info={c["received_camera_info"]}, '
                f'pose={c["received_pose"]}, points={c["received_points"]}, ingested='
                f'{c["ingested"]}; topics {t.rgb}, {t.depth}, {t.camera_info}, pose {t.pose})')

    # ------------------------------------------------------------ outputs
    def status(self) -> dict[str, Any]:
        """Engine stats plus node counters (what geode/status publishes as JSON)."""
        with self._lock:
            node = {**self._counts, 'last_stamp': self._last_stamp}
        engine = self.engine.stats() if self.engine is not None else {}
        sync = self._sync
        if sync is not None:
            node.update(sync_matched=sync.matched, sync_dropped=sync.dropped)
        return {**engine, 'node': node, 'pose_source': self._pose_kind, 'active': self._active}

    def _publish_status(self) -> None:
        pub = self._pubs.get('status')
        if pub is not None:
            pub.publish(String(data=json.dumps(self.status())))

    def _publish_cloud(self) -> None:
        pub, engine, cfg = self._pubs.get('cloud'), self.engine, self.cfg
        if pub is None or engine is None or cfg is None or pub.get_subscription_count() == 0:
            return
        snap = engine.snapshot()
        header = make_header(snap.frame_id, snap.stamp)
        pub.publish(cloud_to_msg(snap.points, snap.colors, header))

    def _warn(self, kind: str, message: str) -> None:
        """Count and log a problem, at most once per ``log_throttle`` seconds per kind."""
        self._counts[f'errors_{kind}'] += 1
        period = self.cfg.log_throttle if self.cfg is not None else 5.0
        now = time.monotonic()
        with self._lock:
            if now - self._last_warn.get(kind, -math.inf) < period:
                return
            self._last_warn[kind] = now
        self.get_logger().warning(f'{message} [{self._counts[f"errors_{kind}"]} so far]')


def main(argv: list[str] | None = None) -> int:
    """Run ``geode_node``: configure + activate when ``autostart``, spin until shutdown."""
    rclpy.init(args=argv)
    node, executor = None, None
    try:
        node = GeodeNode()
        executor = MultiThreadedExecutor(num_threads=4)
        executor.add_node(node)
        if node.get_parameter('autostart').value:
            if node.trigger_configure() != SUCCESS or node.trigger_activate() != SUCCESS:
                node.get_logger().error('autostart failed; staying inactive (see errors above)')
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
