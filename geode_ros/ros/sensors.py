"""Sensor input of ``geode_node``: synchronise, queue, then decode and fuse off the callbacks.

``SensorPipeline`` lives for one activation. Its callbacks (RGB, depth, CameraInfo,
PointCloud2, PoseStamped) only count and queue; the ``IngestWorker`` thread looks up
the pose (waiting for it, bounded), decodes and calls the engine. Every outcome is
counted in the node's ``FrameCounters`` (see ``geode_ros.ros.ingest``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from rclpy.event_handler import SubscriptionEventCallbacks

from geode_ros.errors import GeodeError
from geode_ros.query.engine import SpatialQueryEngine
from geode_ros.ros.conversions import cloud_from_msg, header_stamp, rgbd_from_msgs
from geode_ros.ros.ingest import FrameCounters, IngestWorker, Pending, SkipFrame
from geode_ros.ros.params import NodeConfig
from geode_ros.ros.sync import ApproximateTimeSync
from geode_ros.ros.tf import TopicPoseSource

RGBD_INPUTS = ('rgb', 'depth', 'camera_info')
# What loses large frames on one host (measured: docs/live.md), and the fix on the camera side.
LOST_HINT = ('A publisher on this host loses frames larger than its Fast DDS shared-memory '
             'segment (512 kB by default) unless they are re-sent (reliable, at a CPU cost): '
             'start the camera driver with FASTRTPS_DEFAULT_PROFILES_FILE=<geode_ros share>/'
             'config/fastdds_large_frames.xml')


class SensorPipeline:
    """Approximate-time sync of RGB + depth + CameraInfo, then the ingest thread."""

    def __init__(self, cfg: NodeConfig, engine: SpatialQueryEngine, pose: Any,
                 counters: FrameCounters) -> None:
        self.cfg, self.engine, self.pose, self.counters = cfg, engine, pose, counters
        self.sync = (ApproximateTimeSync(3, cfg.sync_queue, cfg.sync_slop, self.on_rgbd)
                     if cfg.use_rgbd else None)
        self.worker = IngestWorker(self._process, self._ready, counters, cfg.ingest_queue,
                                   cfg.pose_wait)
        self._reported_unmatched = [0, 0, 0]
        self.align = cfg.up_alignment()  # fixed frame -> z-up scene memory (world_up)

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    # ------------------------------------------------------------ callbacks (cheap)
    def sync_input(self, index: int) -> Any:
        """The subscription callback of RGBD input ``index`` (0 rgb, 1 depth, 2 info)."""
        name = RGBD_INPUTS[index]

        def add(msg: Any) -> None:
            self.counters.add(f'received_{name}')
            if self.sync is None:
                return
            try:
                self.sync.add(index, header_stamp(msg), msg)
            except Exception as exc:  # noqa: BLE001 - one bad message never kills the node
                self.counters.problem('sync', f'dropped {name} message: {exc}')
            self._report_unmatched()
        return add

    def on_rgbd(self, rgb: Any, depth: Any, info: Any) -> None:
        """A synchronised set (called by the synchroniser): queue it at the depth stamp,
        since the points come from the depth image."""
        self.counters.add('synced')
        self.worker.submit(Pending('rgbd', header_stamp(depth), (rgb, depth, info)))

    def on_points(self, msg: Any) -> None:
        self.counters.add('received_points')
        self.worker.submit(Pending('points', header_stamp(msg), (msg,)))

    def on_pose(self, msg: Any) -> None:
        """A PoseStamped (pose_source topic)."""
        self.counters.add('received_pose')
        if isinstance(self.pose, TopicPoseSource):
            try:
                self.pose.add_pose(msg)
            except GeodeError as exc:
                reason = getattr(exc, 'reason', None)
                if reason:  # an absurd pose (InputRejected): counted with its reason
                    self.counters.add(f'rejected_{reason}')
                self.counters.problem('pose', f'dropped pose: {exc}')
        self.worker.poke()

    def _report_unmatched(self) -> None:
        """Warn (throttled) when the synchroniser drops messages that never made a set."""
        sync = self.sync
        if sync is None:
            return
        for i, n in enumerate(sync.dropped_by_input):
            if n > self._reported_unmatched[i]:
                self._reported_unmatched[i] = n
                self.counters.problem(
                    f'unmatched_{RGBD_INPUTS[i]}',
                    f'{RGBD_INPUTS[i]} messages with no partner within sync_slop='
                    f'{self.cfg.sync_slop} s (another input lost or late)')

    # ------------------------------------------------------------ ingest thread
    def _frame_of(self, item: Pending) -> str:
        msg = item.msgs[0]
        if item.kind == 'rgbd':
            return self.cfg.camera_frame or item.msgs[1].header.frame_id
        return msg.header.frame_id.lstrip('/')

    def _ready(self, item: Pending) -> bool:
        fixed, frame = self.cfg.scene.fixed_frame, self._frame_of(item)
        if item.kind == 'points' and frame in ('', fixed):
            return True
        return self.pose is None or self.pose.ready(fixed, frame, item.stamp)

    def _pose_of(self, item: Pending) -> np.ndarray:
        """The sensor's pose in scene memory (the fixed frame turned z-up)."""
        T = self._pose_in_fixed(item)
        return T if self.align is None else self.align @ T

    def _pose_in_fixed(self, item: Pending) -> np.ndarray:
        fixed, frame = self.cfg.scene.fixed_frame, self._frame_of(item)
        if item.kind == 'points' and frame in ('', fixed):
            return np.eye(4)
        if self.pose is None:
            raise SkipFrame('no_pose_source', 'no pose source for this frame')
        try:
            return self.pose.camera_pose(fixed, frame, item.stamp)
        except GeodeError as exc:
            raise SkipFrame('no_pose', f'{exc} (waited up to pose_wait={self.cfg.pose_wait} '
                            's)') from exc

    def _process(self, item: Pending, fuse_all: bool) -> tuple[bool, bool]:
        """Decode and ingest one item; (fused, became a keyframe)."""
        T = self._pose_of(item)
        bounds = self.cfg.scene  # physical bounds: a rejected set leaves memory untouched
        if item.kind == 'points':
            xyz, rgb = cloud_from_msg(item.msgs[0], bounds, T)
            self.engine.ingest_points(xyz, rgb, T, item.stamp)
            return True, False
        rgb_msg, depth_msg, info = item.msgs
        rgb, depth, intr = rgbd_from_msgs(rgb_msg, depth_msg, info,
                                          self.cfg.scene.depth_scale_16u, bounds, T)
        fuse = fuse_all and self.cfg.scene.fuse_all_frames
        keyframe = self.engine.ingest(rgb, depth, intr, T, item.stamp, fuse_all=fuse)
        return keyframe or fuse, keyframe

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {'waiting': self.worker.waiting()}
        if self.sync is not None:
            out.update(sync_matched=self.sync.matched, sync_dropped=self.sync.dropped,
                       unmatched=dict(zip(RGBD_INPUTS, self.sync.dropped_by_input)))
        return out


def sensor_events(counters: FrameCounters, name: str, topic: str, cfg: NodeConfig,
                  on_incompatible: Callable[[str], None] | None = None) -> Any:
    """DDS events of a sensor subscription: messages lost in transport, QoS mismatch."""

    def lost(status: Any) -> None:
        counters.add(f'lost_{name}', int(status.total_count_change))
        counters.problem(f'lost_{name}', f'DDS lost {status.total_count} {name} messages on '
                         f'{topic} before geode_node saw them. {LOST_HINT}')

    def incompatible(status: Any) -> None:
        if on_incompatible is not None:
            on_incompatible(name)
        if cfg.qos_reliability == 'auto':
            hint = f're-matched within qos_check_period={cfg.qos_check_period} s'
        else:
            hint = 'set qos_reliability:=auto to follow the publishers'
        counters.problem(f'qos_{name}', f'a publisher on {topic} offers QoS incompatible with '
                         f'this subscription (qos_reliability={cfg.qos_reliability}); it is '
                         f'not received: {hint}')

    return SubscriptionEventCallbacks(message_lost=lost, incompatible_qos=incompatible)
