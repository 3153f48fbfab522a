"""Answer boxes -> ``visualization_msgs/MarkerArray`` (pure; no node needed)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Duration
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from geode_ros.data.mcap_out import TEXT_GAP, TEXT_HEIGHT, label_rgb
from geode_ros.ros.conversions import matrix_to_pose_msg
from geode_ros.scene.geometry import pose_to_matrix, yaw_to_quat_xyzw
from geode_ros.scene.types import Box3D


def label_color(label: str, alpha: float = 0.5) -> ColorRGBA:
    """A colour that depends only on ``label`` (CRC32: stable across runs and processes)."""
    r, g, b = label_rgb(label)
    return ColorRGBA(r=r, g=g, b=b, a=float(alpha))


def duration_msg(seconds: float) -> Duration:
    """``builtin_interfaces/Duration`` from seconds (0 = forever in RViz)."""
    seconds = max(0.0, float(seconds))
    sec = int(seconds)
    return Duration(sec=sec, nanosec=int(round((seconds - sec) * 1e9)) % 1_000_000_000)


def boxes_to_markers(
    boxes: Sequence[Box3D],
    header: Header,
    *,
    lifetime: float = 0.0,
    ns: str = 'geode',
    alpha: float = 0.5,
    T_frame_src: np.ndarray | None = None,
) -> MarkerArray:
    """DELETEALL, then per box a CUBE (pose + size) and a TEXT_VIEW_FACING label above it.

    Marker ids are 2*i (cube) and 2*i + 1 (text); ``header`` is copied onto every marker.
    ``T_frame_src`` (header frame <- box frame) moves the boxes into the header's frame.
    """
    T = np.eye(4) if T_frame_src is None else np.asarray(T_frame_src, np.float64)
    out = MarkerArray()
    clear = Marker(header=header, ns=ns, id=0, action=Marker.DELETEALL)
    out.markers.append(clear)
    life = duration_msg(lifetime)
    for i, box in enumerate(boxes):
        center = np.asarray(box.center, dtype=np.float64).reshape(3)
        size = np.maximum(np.abs(np.asarray(box.size, dtype=np.float64).reshape(3)), 1e-3)
        color = label_color(box.label, alpha)
        cube = Marker(header=header, ns=ns, id=2 * i, type=Marker.CUBE, action=Marker.ADD)
        cube.pose = matrix_to_pose_msg(T @ pose_to_matrix(center, yaw_to_quat_xyzw(box.yaw)))
        cube.scale.x, cube.scale.y, cube.scale.z = (float(v) for v in size)
        cube.color = color
        cube.lifetime = life
        out.markers.append(cube)

        text = Marker(header=header, ns=ns, id=2 * i + 1, type=Marker.TEXT_VIEW_FACING,
                      action=Marker.ADD)
        above = T[:3, :3] @ (center + [0.0, 0.0, size[2] / 2.0 + TEXT_GAP]) + T[:3, 3]
        text.pose.position.x, text.pose.position.y, text.pose.position.z = map(float, above)
        text.pose.orientation.w = 1.0
        text.scale.z = TEXT_HEIGHT
        text.color = ColorRGBA(r=color.r, g=color.g, b=color.b, a=1.0)
        text.text = f'{box.label} {box.score:.2f}' if box.score < 1.0 else box.label
        text.lifetime = life
        out.markers.append(text)
    return out
