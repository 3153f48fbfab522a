"""Camera pose sources: TF (tf2_ros, or our small buffer fed by /tf) or a PoseStamped topic.

``tf2_ros`` and ``tf2_msgs`` are not on PyPI, so neither is imported at module
level. ``make_pose_source`` picks: tf2_ros when importable, else ``TfTree`` fed
from /tf and /tf_static when ``tf2_msgs`` is importable, else the pose topic.
"""

from __future__ import annotations

import bisect
import importlib.util
import math
import threading
from collections import deque
from typing import Any, Protocol

import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.ros.conversions import pose_msg_to_matrix, stamp_to_sec, transform_msg_to_matrix
from geode_ros.scene.geometry import (
    compose,
    invert_transform,
    matrix_to_quat_xyzw,
    pose_to_matrix,
)


def have_module(name: str) -> bool:
    """True when ``name`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class PoseSource(Protocol):
    """What the node needs: camera poses for frames, and frame changes for answers."""

    def camera_pose(self, fixed_frame: str, camera_frame: str, stamp: float) -> np.ndarray:
        """T_fixed_camera at ``stamp``; GeodeError when unknown."""
        ...

    def transform(self, target: str, source: str) -> np.ndarray:
        """Latest T_target_source; GeodeError naming the known frames when unknown."""
        ...

    def ready(self, fixed_frame: str, camera_frame: str, stamp: float) -> bool:
        """True once a pose at or after ``stamp`` is in (a lookup then will not improve)."""
        ...


EXACT_S = 0.002  # a pose this close to an image stamp is its pose (no interpolation)


class _Stamped:
    """Poses of one frame sorted by stamp, bounded in length."""

    def __init__(self, maxlen: int) -> None:
        self.stamps: deque[float] = deque(maxlen=maxlen)
        self.poses: deque[np.ndarray] = deque(maxlen=maxlen)

    def add(self, stamp: float, T: np.ndarray) -> None:
        if self.stamps and stamp < self.stamps[-1]:  # out of order (rare): rebuild sorted
            items = sorted([*zip(self.stamps, self.poses), (stamp, T)], key=lambda x: x[0])
            self.stamps.clear()
            self.poses.clear()
            for s, p in items[-self.stamps.maxlen:]:
                self.stamps.append(s)
                self.poses.append(p)
            return
        self.stamps.append(stamp)
        self.poses.append(T)

    def nearest(self, stamp: float | None, max_age: float) -> tuple[float, np.ndarray] | None:
        """Latest pose when ``stamp`` is None; else the pose at ``stamp``: one within
        ``EXACT_S`` of it, or interpolated between the poses on either side when both lie
        within ``max_age``. Never extrapolated from one side (a moving camera would be
        misplaced), so None when the pose after ``stamp`` is missing."""
        if not self.stamps:
            return None
        if stamp is None:
            return self.stamps[-1], self.poses[-1]
        stamps = list(self.stamps)
        i = bisect.bisect_left(stamps, stamp)
        if 0 < i < len(stamps) and stamps[i] - stamps[i - 1] > 1e-9 and \
                stamp - stamps[i - 1] <= max_age and stamps[i] - stamp <= max_age:
            w = (stamp - stamps[i - 1]) / (stamps[i] - stamps[i - 1])
            return stamp, interpolate_pose(self.poses[i - 1], self.poses[i], w)
        best = min((j for j in (i - 1, i) if 0 <= j < len(stamps)),
                   key=lambda j: abs(stamps[j] - stamp))
        if abs(stamps[best] - stamp) > min(max_age, EXACT_S):
            return None
        return stamps[best], self.poses[best]


def interpolate_pose(A: np.ndarray, B: np.ndarray, w: float) -> np.ndarray:
    """Pose a fraction ``w`` of the way from A to B (linear translation, slerp rotation)."""
    if w <= 0.0:
        return A.copy()
    if w >= 1.0:
        return B.copy()
    qa, qb = matrix_to_quat_xyzw(A), matrix_to_quat_xyzw(B)
    if qa @ qb < 0:
        qb = -qb
    angle = math.acos(min(1.0, float(qa @ qb)))
    if angle < 1e-6:
        q = qa
    else:
        q = (math.sin((1 - w) * angle) * qa + math.sin(w * angle) * qb) / math.sin(angle)
    return pose_to_matrix((1 - w) * A[:3, 3] + w * B[:3, 3], q)


class TfTree:
    """A tiny in-process TF buffer: dynamic + static edges, nearest-stamp lookup, no tf2.

    Feed it ``geometry_msgs/TransformStamped`` (e.g. from a ``tf2_msgs/TFMessage``).
    """

    def __init__(self, max_age: float = 0.2, history: int = 200) -> None:
        self.max_age = float(max_age)
        self._history = int(history)
        self._parent: dict[str, str] = {}
        self._edges: dict[str, _Stamped] = {}
        self._static: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def set_transform(self, msg: Any, static: bool = False) -> None:
        """Add one ``TransformStamped`` (header.frame_id = parent, child_frame_id = child)."""
        parent = msg.header.frame_id.lstrip('/')
        child = msg.child_frame_id.lstrip('/')
        if not parent or not child or parent == child:
            raise GeodeError(f'bad transform {parent!r} -> {child!r}')
        T = transform_msg_to_matrix(msg)
        with self._lock:
            self._parent[child] = parent
            if static:
                self._static[child] = T
            else:
                self._edges.setdefault(child, _Stamped(self._history)).add(
                    stamp_to_sec(msg.header.stamp), T)

    def frames(self) -> set[str]:
        """Every frame named so far."""
        with self._lock:
            return set(self._parent) | set(self._parent.values())

    def _to_root(self, frame: str, stamp: float | None) -> list[tuple[str, np.ndarray]]:
        """[(ancestor, T_ancestor_frame)] from ``frame`` itself up to its root."""
        chain = [(frame, np.eye(4))]
        T = np.eye(4)
        seen = {frame}
        while frame in self._parent:
            if frame in self._static:
                edge = self._static[frame]
            else:
                hit = self._edges[frame].nearest(stamp, self.max_age)
                if hit is None:
                    raise GeodeError(f'no transform {self._parent[frame]} -> {frame} within '
                                     f'{self.max_age} s of t={stamp}')
                edge = hit[1]
            frame = self._parent[frame]
            if frame in seen:
                raise GeodeError(f'TF loop through frame {frame!r}')
            seen.add(frame)
            T = compose(edge, T)  # T_parent_source = T_parent_frame @ T_frame_source
            chain.append((frame, T))
        return chain

    def ready(self, target: str, source: str, stamp: float) -> bool:
        """True when every moving edge from ``source`` and ``target`` up to their roots has
        a transform at or after ``stamp`` (static edges always count)."""
        with self._lock:
            for frame in (source.lstrip('/'), target.lstrip('/')):
                if frame not in self._parent and frame not in self._parent.values():
                    return False
                seen: set[str] = set()
                while frame in self._parent and frame not in seen:
                    seen.add(frame)
                    if frame not in self._static:
                        edge = self._edges.get(frame)
                        if edge is None or not edge.stamps or edge.stamps[-1] < stamp - 1e-9:
                            return False
                    frame = self._parent[frame]
        return True

    def lookup(self, target: str, source: str, stamp: float | None = None) -> np.ndarray:
        """T_target_source at ``stamp`` (None = latest); GeodeError when not connected."""
        target, source = target.lstrip('/'), source.lstrip('/')
        if target == source:
            return np.eye(4)
        with self._lock:
            known = set(self._parent) | set(self._parent.values())
            for f in (target, source):
                if f not in known:
                    raise GeodeError(f'unknown frame {f!r}; known frames: {sorted(known)}')
            up_src = self._to_root(source, stamp)  # (ancestor, T_ancestor_source)
            up_tgt = dict(self._to_root(target, stamp))  # ancestor -> T_ancestor_target
        for frame, T_a_src in up_src:
            if frame in up_tgt:
                return compose(invert_transform(up_tgt[frame]), T_a_src)
        raise GeodeError(f'frames {target!r} and {source!r} are not connected in TF')


class TopicPoseSource:
    """Camera poses from a ``geometry_msgs/PoseStamped`` topic (header.frame_id = fixed frame).

    The only frames it knows are the fixed frame and the camera frames seen so far,
    so answers can be given in either.
    """

    def __init__(self, max_age: float = 0.2, history: int = 200) -> None:
        self.max_age = float(max_age)
        self._poses = _Stamped(history)
        self._parent = ''
        self._cameras: set[str] = set()
        self._lock = threading.Lock()

    def add_pose(self, msg: Any) -> None:
        """Store one PoseStamped (the node's ``_on_pose`` calls this)."""
        T = pose_msg_to_matrix(msg)
        with self._lock:
            self._parent = msg.header.frame_id.lstrip('/')
            self._poses.add(stamp_to_sec(msg.header.stamp), T)

    def ready(self, fixed_frame: str, camera_frame: str, stamp: float) -> bool:
        with self._lock:
            return bool(self._poses.stamps) and self._poses.stamps[-1] >= stamp - 1e-9

    def camera_pose(self, fixed_frame: str, camera_frame: str, stamp: float) -> np.ndarray:
        with self._lock:
            if not self._poses.stamps:
                raise GeodeError('no camera pose received yet on the pose topic')
            if self._parent and self._parent != fixed_frame.lstrip('/'):
                raise GeodeError(f'pose topic gives poses in {self._parent!r} but the fixed '
                                 f'frame is {fixed_frame!r}; set scene.fixed_frame to match')
            hit = self._poses.nearest(stamp, self.max_age)
            if hit is None:
                last = self._poses.stamps[-1]
                raise GeodeError(f'no camera pose within {self.max_age} s of t={stamp:.3f} '
                                 f'(latest pose t={last:.3f})')
            if camera_frame:
                self._cameras.add(camera_frame.lstrip('/'))
            return hit[1]

    def transform(self, target: str, source: str) -> np.ndarray:
        target, source = target.lstrip('/'), source.lstrip('/')
        if target == source:
            return np.eye(4)
        with self._lock:
            latest = self._poses.nearest(None, 0.0)
            known = sorted({self._parent, *self._cameras} - {''})
            if latest is not None and source == self._parent and target in self._cameras:
                return invert_transform(latest[1])
            if latest is not None and target == self._parent and source in self._cameras:
                return latest[1].copy()
        raise GeodeError(f'unknown target_frame {target!r}: with pose_source topic the known '
                         f'frames are {known}')



class TfPoseSource:
    """Poses from a tf2_ros ``Buffer`` or a ``TfTree`` (both keep their own listeners)."""

    def __init__(self, buffer: Any, max_age: float = 0.2) -> None:
        self.buffer = buffer
        self.max_age = float(max_age)

    def _lookup(self, target: str, source: str, stamp: float | None) -> np.ndarray:
        if isinstance(self.buffer, TfTree):
            return self.buffer.lookup(target, source, stamp)
        import tf2_ros
        from rclpy.duration import Duration
        from rclpy.time import Time

        when = Time() if stamp is None else Time(nanoseconds=int(stamp * 1e9))
        try:
            msg = self.buffer.lookup_transform(target, source, when,
                                               timeout=Duration(seconds=self.max_age))
        except tf2_ros.TransformException as exc:
            raise GeodeError(f'TF lookup {target} <- {source} failed: {exc}') from exc
        return transform_msg_to_matrix(msg)

    def ready(self, fixed_frame: str, camera_frame: str, stamp: float) -> bool:
        if not camera_frame:
            return True  # camera_pose says what is wrong
        if isinstance(self.buffer, TfTree):
            return self.buffer.ready(fixed_frame, camera_frame, stamp)
        from rclpy.time import Time

        return bool(self.buffer.can_transform(fixed_frame, camera_frame,
                                              Time(nanoseconds=int(stamp * 1e9))))

    def camera_pose(self, fixed_frame: str, camera_frame: str, stamp: float) -> np.ndarray:
        if not camera_frame:
            raise GeodeError('image header has no frame_id; set the camera_frame parameter')
        return self._lookup(fixed_frame, camera_frame, stamp)

    def transform(self, target: str, source: str) -> np.ndarray:
        try:
            return self._lookup(target, source, None)
        except GeodeError as exc:
            raise GeodeError(f'unknown target_frame {target!r}: {exc}') from exc


def make_pose_source(
    node: Any, mode: str, pose_topic: str, qos: Any, callback_group: Any, max_age: float,
    on_pose: Any = None, subscribe: Any = None,
) -> tuple[str, PoseSource, list[Any]]:
    """Create the pose source for ``mode`` ('auto', 'tf', 'topic').

    Returns (kind, source, handles): the node destroys the handles (subscriptions, or a
    tf2 listener with ``unregister``) on deactivate. The pose-topic subscription calls
    ``on_pose`` (default ``node._on_pose``); TF subscriptions feed the buffer. When given,
    ``subscribe(msg_type, topic, callback)`` makes the pose-topic subscription instead
    (the node's QoS-matching one) and ``qos`` is not used.
    """
    use_tf = mode == 'tf' or (mode == 'auto' and (have_module('tf2_ros')
                                                  or have_module('tf2_msgs')))
    if not use_tf:
        callback = on_pose or node._on_pose
        sub = (subscribe(_pose_stamped_type(), pose_topic, callback) if subscribe is not None
               else node.create_subscription(_pose_stamped_type(), pose_topic, callback, qos,
                                             callback_group=callback_group))
        return 'topic', TopicPoseSource(max_age), [sub]
    if have_module('tf2_ros'):
        import tf2_ros

        buffer = tf2_ros.Buffer()
        listener = tf2_ros.TransformListener(buffer, node, spin_thread=False)
        return 'tf2_ros', TfPoseSource(buffer, max_age), [listener]
    if have_module('tf2_msgs'):
        from rclpy.qos import DurabilityPolicy, QoSProfile
        from tf2_msgs.msg import TFMessage

        tree = TfTree(max_age)

        def feed(static: bool):
            def on_tf(msg: Any) -> None:
                for t in msg.transforms:
                    try:
                        tree.set_transform(t, static)
                    except GeodeError as exc:
                        node.get_logger().warning(str(exc), throttle_duration_sec=5.0)
            return on_tf

        latched = QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        subs = [node.create_subscription(TFMessage, '/tf', feed(False), 100,
                                         callback_group=callback_group),
                node.create_subscription(TFMessage, '/tf_static', feed(True), latched,
                                         callback_group=callback_group)]
        return 'tf_tree', TfPoseSource(tree, max_age), subs
    raise GeodeError('pose_source tf needs tf2_ros or tf2_msgs, and neither is installed; '
                     'set pose_source to topic and publish a PoseStamped')


def _pose_stamped_type() -> type:
    from geometry_msgs.msg import PoseStamped

    return PoseStamped
