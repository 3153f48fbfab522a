"""Pure conversions between ROS 2 messages and geode_ros types (no node, no spinning).

Image and PointCloud2 decoding lives in ``geode_ros.scene`` (ROS-free codecs);
this module only adapts message fields to them and builds outgoing messages.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose, Transform
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

from geode_ros.errors import GeodeError, InputRejected
from geode_ros.scene.config import SceneConfig
from geode_ros.scene.geometry import (
    check_pose,
    compose,
    matrix_to_pose,
    pose_to_matrix,
    yaw_to_quat_xyzw,
)
from geode_ros.scene.image_codec import decode_depth, decode_rgb, intrinsics_from_camera_info
from geode_ros.scene.input_bounds import (
    check_intrinsics,
    check_points,
    check_pose_matrix,
    check_quaternion,
    check_stamp,
    check_translation,
    sanitise_depth_m,
)
from geode_ros.scene.pointcloud2 import create_cloud_xyzrgb, xyz_rgb_from_cloud
from geode_ros.scene.types import Box3D, CameraIntrinsics

# ---------------------------------------------------------------- time and headers


def stamp_to_sec(stamp: Any) -> float:
    """Seconds from a ``builtin_interfaces/Time`` (or anything with sec/nanosec)."""
    return float(stamp.sec) + 1e-9 * float(stamp.nanosec)


def sec_to_stamp(seconds: float) -> Time:
    """``builtin_interfaces/Time`` from seconds (clamped at 0)."""
    ns = max(0, int(round(float(seconds) * 1e9)))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def header_stamp(msg: Any) -> float:
    """Header stamp of a stamped message in seconds."""
    return stamp_to_sec(msg.header.stamp)


def make_header(frame_id: str, stamp: float) -> Header:
    """``std_msgs/Header`` with ``frame_id`` and a stamp in seconds."""
    return Header(frame_id=frame_id, stamp=sec_to_stamp(stamp))


# ---------------------------------------------------------------- poses


def _bounded_pose(msg: Any, t: tuple, q: tuple, what: str, bounds: SceneConfig | None
                  ) -> np.ndarray:
    """4x4 pose after the physical bounds (translation, unit quaternion, stamp) are met."""
    cfg = bounds or SceneConfig()
    check_translation(t, what, cfg)
    check_quaternion(q, what, cfg)
    header = getattr(msg, 'header', None)
    if header is not None:
        check_stamp(stamp_to_sec(header.stamp), what, cfg)
    return pose_to_matrix(t, q)


def pose_msg_to_matrix(msg: Any, bounds: SceneConfig | None = None) -> np.ndarray:
    """4x4 T_parent_child from a ``Pose`` or ``PoseStamped``; InputRejected (a GeodeError)
    unless a rigid pose within ``bounds`` (SceneConfig input bounds; defaults when None)."""
    pose = getattr(msg, 'pose', msg)
    p, q = pose.position, pose.orientation
    return _bounded_pose(msg, (p.x, p.y, p.z), (q.x, q.y, q.z, q.w), 'pose', bounds)


def transform_msg_to_matrix(msg: Any, bounds: SceneConfig | None = None) -> np.ndarray:
    """4x4 T_parent_child from a ``Transform`` or ``TransformStamped`` (bounded as above)."""
    tf = getattr(msg, 'transform', msg)
    t, q = tf.translation, tf.rotation
    return _bounded_pose(msg, (t.x, t.y, t.z), (q.x, q.y, q.z, q.w), 'transform', bounds)


def matrix_to_pose_msg(T: np.ndarray) -> Pose:
    """``geometry_msgs/Pose`` from a 4x4 pose."""
    t, q = matrix_to_pose(T)
    msg = Pose()
    msg.position.x, msg.position.y, msg.position.z = (float(v) for v in t)
    o = msg.orientation
    o.x, o.y, o.z, o.w = (float(v) for v in q)
    return msg


def matrix_to_transform_msg(T: np.ndarray) -> Transform:
    """``geometry_msgs/Transform`` from a 4x4 pose."""
    t, q = matrix_to_pose(T)
    msg = Transform()
    msg.translation.x, msg.translation.y, msg.translation.z = (float(v) for v in t)
    r = msg.rotation
    r.x, r.y, r.z, r.w = (float(v) for v in q)
    return msg


# ---------------------------------------------------------------- sensors


def _reason(reason: str, what: str, call: Any, *args: Any) -> Any:
    """``call(*args)``; a GeodeError from it becomes InputRejected(``reason``)."""
    try:
        return call(*args)
    except InputRejected:
        raise
    except GeodeError as exc:
        raise InputRejected(reason, f'{what}: {exc}') from exc


def rgbd_from_msgs(
    rgb_msg: Any, depth_msg: Any, info_msg: Any, depth_scale: float = 0.001,
    bounds: SceneConfig | None = None, T_world_cam: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, CameraIntrinsics]:
    """(rgb HxWx3 uint8, depth HxW float32 m, intrinsics) from Image, Image, CameraInfo.

    The depth image must be registered to the colour image (same size), as
    ``aligned_depth_to_color`` topics are; CameraInfo must describe that size. Every
    input is checked against ``bounds`` (SceneConfig; defaults when None): stamp, sane
    intrinsics for the image size, the camera pose ``T_world_cam`` when given; depth
    pixels beyond ``max_range_m`` become invalid (0). Failures raise InputRejected with
    a reason code, before anything reaches scene memory.
    """
    cfg = bounds or SceneConfig()
    check_stamp(stamp_to_sec(rgb_msg.header.stamp), 'RGB image', cfg)
    if T_world_cam is not None:
        check_pose_matrix(T_world_cam, 'camera pose', cfg)
    rgb = _reason('rgb_malformed', 'RGB image', decode_rgb, rgb_msg)
    depth = _reason('depth_malformed', 'depth image', decode_depth, depth_msg, depth_scale)
    intr = _reason('intrinsics', 'CameraInfo', intrinsics_from_camera_info, info_msg)
    check_intrinsics(intr)
    if rgb.shape[:2] != depth.shape[:2]:
        raise InputRejected(
            'size_mismatch',
            f'RGB is {rgb.shape[1]}x{rgb.shape[0]} but depth is {depth.shape[1]}x'
            f'{depth.shape[0]}: subscribe to a depth topic registered to the colour camera'
        )
    if (intr.height, intr.width) != rgb.shape[:2]:
        raise InputRejected(
            'size_mismatch',
            f'CameraInfo is {intr.width}x{intr.height} but images are {rgb.shape[1]}x'
            f'{rgb.shape[0]}: use the camera_info topic of the colour camera'
        )
    return rgb, sanitise_depth_m(depth, cfg), intr


def cloud_from_msg(msg: Any, bounds: SceneConfig | None = None,
                   T_world_sensor: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """(xyz [N, 3] float32, rgb [N, 3] uint8 or None) from a ``sensor_msgs/PointCloud2``.

    Checked like ``rgbd_from_msgs``: stamp, sensor pose, every point within ``max_range_m``.
    """
    cfg = bounds or SceneConfig()
    check_stamp(stamp_to_sec(msg.header.stamp), 'PointCloud2', cfg)
    if T_world_sensor is not None:
        check_pose_matrix(T_world_sensor, 'sensor pose', cfg)
    xyz, rgb = _reason('cloud_malformed', 'PointCloud2', xyz_rgb_from_cloud, msg)
    check_points(xyz, cfg)
    return xyz, rgb


def cloud_to_msg(points: np.ndarray, colors: np.ndarray | None, header: Header) -> PointCloud2:
    """``sensor_msgs/PointCloud2`` (x, y, z float32 + packed rgb) of a fused cloud."""
    data = create_cloud_xyzrgb(header, np.asarray(points, np.float32), colors)
    msg = PointCloud2(header=header, height=int(data.height), width=int(data.width),
                      is_bigendian=bool(data.is_bigendian), point_step=int(data.point_step),
                      row_step=int(data.row_step), is_dense=bool(data.is_dense))
    msg.fields = [PointField(name=f.name, offset=int(f.offset), datatype=int(f.datatype),
                             count=int(f.count)) for f in data.fields]
    msg.data = bytes(data.data)
    return msg


# ---------------------------------------------------------------- boxes and answers


def box_to_msg(box: Box3D, T_target_src: np.ndarray | None = None) -> Any:
    """``geode_ros/Box3D`` message; ``T_target_src`` re-expresses the box in another frame."""
    from geode_ros.msg import Box3D as Box3DMsg

    T = pose_to_matrix(np.asarray(box.center, np.float64).reshape(3), yaw_to_quat_xyzw(box.yaw))
    if T_target_src is not None:
        T = compose(check_pose(T_target_src, 'target frame transform'), T)
    msg = Box3DMsg(label=str(box.label), score=float(box.score))
    msg.pose = matrix_to_pose_msg(T)
    msg.size.x, msg.size.y, msg.size.z = (float(v) for v in np.asarray(box.size).reshape(3))
    if math.isfinite(box.last_seen):
        msg.last_seen = sec_to_stamp(box.last_seen)
    return msg


def box_from_msg(msg: Any) -> Box3D:
    """Box3D from a ``geode_ros/Box3D`` message (yaw = heading of the box x axis)."""
    T = pose_msg_to_matrix(msg.pose)
    yaw = math.atan2(T[1, 0], T[0, 0])
    size = np.array([msg.size.x, msg.size.y, msg.size.z], dtype=np.float64)
    seen = stamp_to_sec(msg.last_seen)
    return Box3D(label=msg.label, center=T[:3, 3].copy(), size=size, yaw=yaw, score=msg.score,
                 last_seen=seen if seen > 0 else math.nan)
