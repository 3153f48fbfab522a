"""Current detections -> ``vision_msgs/Detection3DArray`` (pure; no node needed).

``vision_msgs`` is the ROS convention for 3D detections (RViz plugins, Foxglove and
downstream perception read it). It is not on PyPI (the ros2-cli kit builds it; a ROS 2
install has ``ros-jazzy-vision-msgs``), so it is imported lazily: without it the node
says so once and publishes no detections topic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from std_msgs.msg import Header

from geode_ros.ros.conversions import box_to_msg, make_header
from geode_ros.scene.types import Box3D

MISSING = ('vision_msgs is not installed: geode/detections (vision_msgs/Detection3DArray) '
           'is not published; install ros-jazzy-vision-msgs (or the ros2-cli kit) for it')


def vision_msgs_missing() -> str | None:
    """None when ``vision_msgs`` imports, else what to tell the user."""
    try:
        import vision_msgs.msg  # noqa: F401
    except ImportError:
        return MISSING
    return None


def boxes_to_detections(boxes: Sequence[Box3D], header: Header,
                        T_frame_src: np.ndarray | None = None) -> Any:
    """One ``Detection3D`` per box: ``ObjectHypothesisWithPose`` (class_id = label, score,
    pose) and ``BoundingBox3D`` (centre pose, size), all in ``header``'s frame.

    ``T_frame_src`` (header frame <- box frame) moves the boxes, as for the markers. The
    poses are those of the service reply's ``geode_ros/Box3D`` (``box_to_msg``); ``id``
    is the index (detections are not tracked from one message to the next).
    """
    from vision_msgs.msg import (
        BoundingBox3D,
        Detection3D,
        Detection3DArray,
        ObjectHypothesis,
        ObjectHypothesisWithPose,
    )

    out = Detection3DArray(header=header)
    for i, box in enumerate(boxes):
        msg = box_to_msg(box, T_frame_src)
        hypothesis = ObjectHypothesisWithPose(hypothesis=ObjectHypothesis(
            class_id=msg.label, score=msg.score))
        hypothesis.pose.pose = msg.pose
        out.detections.append(Detection3D(header=header, id=str(i), results=[hypothesis],
                                          bbox=BoundingBox3D(center=msg.pose, size=msg.size)))
    return out


class DetectionsTopic:
    """``geode/detections``: the engine's current detections on the node's timer.

    Recomputed (``engine.detections``, model inference) only when the scene changed since
    the last message, and only while someone subscribes; otherwise the last is re-sent.
    """

    def __init__(self, node: Any, engine: Any, to_fixed: Callable[[], np.ndarray | None]
                 ) -> None:
        from vision_msgs.msg import Detection3DArray

        self.node, self.engine, self.to_fixed = node, engine, to_fixed
        self.pub = node.create_publisher(Detection3DArray, 'geode/detections', 10)
        self._key: Any = None
        self._boxes: list[Box3D] = []

    @classmethod
    def create(cls, node: Any, engine: Any, to_fixed: Callable[[], np.ndarray | None]
               ) -> DetectionsTopic | None:
        """The topic, or None after logging (once per node) that vision_msgs is missing."""
        missing = vision_msgs_missing()
        if missing is None:
            return cls(node, engine, to_fixed)
        if not getattr(node, '_vision_msgs_missing_said', False):
            node.get_logger().warning(missing)
            node._vision_msgs_missing_said = True
        return None

    def publish(self) -> None:
        if self.pub.get_subscription_count() == 0:
            return
        stats = self.engine.stats()
        key = (stats['frames_ingested'], stats['clouds_ingested'], stats['stamp'])
        try:
            if key != self._key:
                self._boxes, self._key = self.engine.detections(), key
            header = make_header(stats['fixed_frame'], stats['stamp'])
            self.pub.publish(boxes_to_detections(self._boxes, header, self.to_fixed()))
        except Exception as exc:  # noqa: BLE001 - a model failure never kills the node
            self.node.counters.problem('detections', f'no detections published: {exc!r}')
