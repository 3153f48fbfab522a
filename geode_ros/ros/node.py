"""``geode_node``: a lifecycle node that feeds RGB-D / clouds to the engine and answers queries.

Thin by design: messages are converted in ``conversions``, markers built in
``markers``, poses come from ``tf``; the scene memory and the model live in
``geode_ros.scene`` / ``geode_ros.model``.

Threads: sensor callbacks, pose callbacks, the query service and timers each
have their own mutually exclusive callback group on a multi-threaded executor,
so a slow answer never stalls ingestion (the engine itself is thread-safe).
Sensor callbacks only queue; decoding and fusion run on the ingest thread of
``sensors.SensorPipeline``, and every frame set is counted as fused or skipped
with a reason (``geode/status`` JSON, ``node.skipped``).
"""

from __future__ import annotations

import functools
import json
import signal
import sys
import threading
from typing import Any

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.lifecycle import Node as LifecycleNode
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from geode_ros.errors import GeodeError
from geode_ros.query.engine import SpatialQueryEngine
from geode_ros.ros.conversions import cloud_to_msg, make_header
from geode_ros.ros.detections import DetectionsTopic
from geode_ros.ros.diagnose import why_no_frames
from geode_ros.ros.executors import NodeExecutor
from geode_ros.ros.ingest import FrameCounters
from geode_ros.ros.markers import boxes_to_markers
from geode_ros.ros.model_path import free_accelerator_memory, load_model, resolve_model
from geode_ros.ros.params import NODE_NAME, NodeConfig, config_from_parameters, declare_parameters
from geode_ros.ros.pose_thread import PoseThread
from geode_ros.ros.process import limit_malloc_arenas
from geode_ros.ros.qos import AdaptiveSubscription, SensorInputs
from geode_ros.ros.query import (
    fail_query_response,
    fill_query_response,
    quote,
    request_program,
    shorten_echoes,
)
from geode_ros.ros.sensors import RGBD_INPUTS, SensorPipeline, sensor_events
from geode_ros.ros.tf import make_pose_source
from geode_ros.scene.geometry import invert_transform, transform_points

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
def _srv_type() -> Any:
    from geode_ros.srv import SpatialQuery

    return SpatialQuery


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
        self._pipeline: SensorPipeline | None = None
        self._pose_thread: PoseThread | None = None
        self._subs: list[Any] = []
        self._pubs: dict[str, Any] = {}
        self._timers: list[Any] = []
        self._srv: Any = None
        self._active = False
        self._sensor_group = MutuallyExclusiveCallbackGroup()
        self._sensor_groups = [MutuallyExclusiveCallbackGroup() for _ in range(3)]
        self._query_group = MutuallyExclusiveCallbackGroup()
        self._timer_group = MutuallyExclusiveCallbackGroup()
        self._detections_group = MutuallyExclusiveCallbackGroup()  # inference: own thread
        self._detections: DetectionsTopic | None = None
        self.counters = FrameCounters(lambda m: self.get_logger().warning(m))
        self.inputs = SensorInputs(self.counters, lambda m: self.get_logger().info(m))

    # ------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            cfg = config_from_parameters(self)
            if cfg.gil_switch_interval_ms > 0:
                sys.setswitchinterval(cfg.gil_switch_interval_ms / 1000.0)
            if cfg.torch_threads > 0:
                import torch

                torch.set_num_threads(cfg.torch_threads)
            model = load_model(cfg)
            if model is not None and hasattr(model.config, 'objects'):
                model.config.objects.proposal_refresh_s = cfg.proposal_refresh
            self.engine = SpatialQueryEngine(cfg.scene, reasoner=model)
            self.engine.reasoner.query_config = cfg.query  # how programs run (query.*)
        except Exception as exc:  # a bad parameter or checkpoint: stay unconfigured
            self.get_logger().error(f'configure failed: {exc}')
            self.engine = None
            return FAILURE
        self.cfg, self._model = cfg, model
        reasoner = self.engine.stats()['reasoner']
        source = f' from {resolve_model(cfg.model)}' if model is not None else ''
        self.get_logger().info(f'configured: reasoner={reasoner}{source}, '
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
        t = cfg.topics
        need_pose = cfg.use_rgbd or bool(t.points)
        if need_pose:  # poses are tiny: a deep queue, so none is lost while images wait
            self._pose_thread = PoseThread(self)
            pose_node, depth = self._pose_thread.node, max(100, cfg.qos_depth)

            def subscribe(mtype: Any, topic: str, callback: Any) -> Any:
                return self._subscribe(pose_node, 'pose', topic, depth, lambda qos: (
                    pose_node.create_subscription(mtype, topic, callback, qos)))

            self._pose_kind, self._pose, _ = make_pose_source(
                pose_node, cfg.pose_source, self.resolve_topic_name(t.pose), None, None,
                cfg.pose_max_age, on_pose=self._on_pose, subscribe=subscribe)
        assert self.engine is not None
        self.counters.throttle_s = cfg.log_throttle
        pipeline = SensorPipeline(cfg, self.engine, self._pose, self.counters)
        pipeline.start()
        self._pipeline = pipeline
        inputs = list(zip(RGBD_INPUTS, (Image, Image, CameraInfo),
                          (t.rgb, t.depth, t.camera_info), self._sensor_groups,
                          map(pipeline.sync_input, range(3)))) if cfg.use_rgbd else []
        if t.points:
            inputs.append(('points', PointCloud2, t.points, self._sensor_group,
                           pipeline.on_points))
        for name, mtype, topic, group, callback in inputs:  # one group each: in parallel
            self._subscribe(self, name, topic, cfg.qos_depth, functools.partial(
                self.create_subscription, mtype, topic, callback, callback_group=group,
                event_callbacks=sensor_events(self.counters, name, topic, cfg,
                                              self.inputs.incompatible)))
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
        if cfg.detections_period > 0:
            self._detections = DetectionsTopic.create(self, self.engine, self._scene_to_fixed)
            if self._detections is not None:
                self._timers.append(self.create_timer(
                    cfg.detections_period, self._detections.publish,
                    callback_group=self._detections_group))
        if cfg.qos_check_period > 0:
            self._timers.append(self.create_timer(cfg.qos_check_period, self.inputs.check,
                                                  callback_group=self._timer_group))
        self._srv = self.create_service(_srv_type(), 'geode/query', self._on_query,
                                        callback_group=self._query_group)

    def _subscribe(self, node: Any, name: str, topic: str, depth: int, create: Any) -> None:
        """A sensor subscription whose reliability follows the publishers (see ``qos``)."""
        assert self.cfg is not None
        self.inputs.add(AdaptiveSubscription(node, name, topic, create,
                                             self.cfg.qos_reliability, depth))

    def _destroy_interfaces(self) -> None:
        self.inputs.destroy()
        for handle in self._subs:
            if hasattr(handle, 'unregister'):  # tf2_ros.TransformListener
                handle.unregister()
            else:
                self.destroy_subscription(handle)
        for timer in self._timers:
            self.destroy_timer(timer)
        for pub in self._pubs.values():
            self.destroy_publisher(pub)
        if self._detections is not None:
            self.destroy_publisher(self._detections.pub)
            self._detections = None
        if self._srv is not None:
            self.destroy_service(self._srv)
        self._subs, self._timers, self._pubs, self._srv = [], [], {}, None
        if self._pose_thread is not None:  # its node owns the pose subscriptions
            self._pose_thread.stop()
            self._pose_thread = None
        if self._pipeline is not None:
            self._pipeline.stop()
        self._pose, self._pipeline = None, None

    # ------------------------------------------------------------ sensors
    def _on_pose(self, msg: PoseStamped) -> None:
        """A camera pose from the pose topic (pose_source topic)."""
        pipeline = self._pipeline
        if pipeline is not None:
            pipeline.on_pose(msg)

    # ------------------------------------------------------------ queries
    def _on_query(self, request: Any, response: Any) -> Any:
        """Answer one SpatialQuery; every failure becomes success=false with a reason.

        The contract (see srv/SpatialQuery.srv and ``geode_ros.ros.query``): the question,
        or the structured fields when it is empty, become one query program; an over-long
        question is refused without being processed and never echoed whole; success=true
        always comes with answer text; ``target_frame`` applies to the boxes, the
        coordinates written in the text and the header.
        """
        self.counters.add('queries')
        cfg, engine, pose = self.cfg, self.engine, self._pose
        if not self._active or cfg is None or engine is None:
            response = fail_query_response(response, 'geode_node is not active: configure and '
                                           'activate it (lifecycle) before asking')
            response.status = 'not_active'
            return response
        fixed = cfg.scene.fixed_frame
        target = request.target_frame.strip().lstrip('/') or fixed
        try:
            question = request_program(request, engine.reasoner, cfg.max_question_chars)
            T = None
            if target != fixed:
                if pose is None:
                    raise GeodeError(f'unknown target_frame {quote(target)}: no pose source; '
                                     f'use {fixed!r}')
                T = pose.transform(target, fixed)
            to_fixed = self._scene_to_fixed()  # world_up: scene memory is the fixed frame z-up
            if to_fixed is not None:
                T = to_fixed if T is None else T @ to_fixed
            answer = engine.query(question)
            if not answer.text.strip():
                raise GeodeError('the model produced no answer text for this question; '
                                 'rephrase it or ask one of the documented question types')
        except GeodeError as exc:
            message = shorten_echoes(self._explain(str(exc)), request.question)
            return fail_query_response(response, message, target, exc)
        except Exception as exc:
            self.get_logger().error(f'model failure on {quote(request.question)}: {exc!r}')
            message = shorten_echoes(f'model failure: {type(exc).__name__}: {exc}',
                                     request.question)
            return fail_query_response(response, message, target)
        self.get_logger().debug('query timings (s): ' + ', '.join(
            f'{k} {v:.3f}' for k, v in answer.timings.items()))
        fill_query_response(response, answer, target, T)
        answer.text = response.answer
        self.counters.add('answered')
        try:
            header = make_header(answer.frame_id, answer.stamp)
            self._pubs['markers'].publish(boxes_to_markers(
                answer.boxes, header, lifetime=cfg.marker_lifetime, T_frame_src=to_fixed))
            self._pubs['answer'].publish(String(data=answer.text))
        except Exception as exc:  # publishers gone (deactivated meanwhile)
            self.counters.problem('publish', f'could not publish answer: {exc!r}')
        return response

    def _scene_to_fixed(self) -> np.ndarray | None:
        """Transform from z-up scene memory to the fixed frame; None when they coincide."""
        align = self._pipeline.align if self._pipeline is not None else None
        return None if align is None else invert_transform(align)

    def _explain(self, message: str) -> str:
        """Add what the node has received, and why nothing was fused, to engine errors
        about empty memory (see ``diagnose.why_no_frames``)."""
        cfg = self.cfg
        if 'scene memory is empty' not in message or cfg is None:
            return message
        c = self.counters.snapshot()
        why = why_no_frames(c, self.inputs.states(), self._pose_kind, cfg.scene.fixed_frame)
        return (f'{message} (no frames yet: {why or "nothing received"}; fused='
                f'{c.get("fused", 0)})')

    # ------------------------------------------------------------ outputs
    def status(self) -> dict[str, Any]:
        """Engine stats plus node counters (what geode/status publishes as JSON)."""
        node = self.counters.snapshot()
        engine = self.engine.stats() if self.engine is not None else {}
        pipeline = self._pipeline
        if pipeline is not None:
            node.update(pipeline.status())
        return {**engine, 'node': node, 'inputs': self.inputs.states(),
                'pose_source': self._pose_kind, 'active': self._active}

    def _publish_status(self) -> None:
        pub = self._pubs.get('status')
        if pub is not None:
            pub.publish(String(data=json.dumps(self.status())))

    def _publish_cloud(self) -> None:
        pub, engine, cfg = self._pubs.get('cloud'), self.engine, self.cfg
        if pub is None or engine is None or cfg is None or pub.get_subscription_count() == 0:
            return
        snap, to_fixed = engine.snapshot(), self._scene_to_fixed()
        points = snap.points if to_fixed is None else transform_points(to_fixed, snap.points)
        pub.publish(cloud_to_msg(points, snap.colors, make_header(snap.frame_id, snap.stamp)))


def main(argv: list[str] | None = None) -> int:
    """Run ``geode_node``: configure + activate when ``autostart``, spin until shutdown.

    Ctrl-C and external shutdown are a normal exit (0). A terminal's Ctrl-C reaches
    both ``ros2 launch`` and the node, and launch forwards another SIGINT; once
    spinning has stopped, further SIGINTs are ignored so none interrupts the teardown.
    """
    limit_malloc_arenas()
    rclpy.init(args=argv)
    node, executor = None, None
    try:
        node = GeodeNode()
        executor = NodeExecutor(num_threads=5)
        executor.add_node(node)
        if node.get_parameter('autostart').value:
            if node.trigger_configure() != SUCCESS or node.trigger_activate() != SUCCESS:
                node.get_logger().error('autostart failed; staying inactive (see errors above)')
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        _ignore_sigint()
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _ignore_sigint() -> None:
    """Ignore SIGINT from here on (main thread only; elsewhere signals cannot be set)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == '__main__':
    sys.exit(main())
