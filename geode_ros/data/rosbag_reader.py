"""rosbag2 (sqlite3 or MCAP) RGB-D reader and writer, with ``rosbags`` (no ROS install).

Reading is two passes: first the small topics (CameraInfo, /tf, /tf_static or a
PoseStamped topic) into memory, then the images streamed and approximately
synchronised by header stamp, so a long bag never sits in memory.
"""

from __future__ import annotations

import bisect
import collections
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.scene.depth import depth_to_points
from geode_ros.scene.geometry import (
    compose,
    invert_transform,
    matrix_to_pose,
    pose_to_matrix,
    quat_xyzw_to_matrix,
)
from geode_ros.scene.image_codec import (
    decode_depth,
    decode_rgb,
    encode_image,
    intrinsics_from_camera_info,
)
from geode_ros.scene.pointcloud2 import create_cloud_xyzrgb, header_frame_stamp, xyz_rgb_from_cloud
from geode_ros.scene.types import RGBDFrame

log = logging.getLogger(__name__)

IMAGE, INFO = 'sensor_msgs/msg/Image', 'sensor_msgs/msg/CameraInfo'
TF, POSE, CLOUD = 'tf2_msgs/msg/TFMessage', 'geometry_msgs/msg/PoseStamped', \
    'sensor_msgs/msg/PointCloud2'


@dataclass
class BagTopics:
    """Topic names; None = pick the single topic of the right type (depth: name has 'depth')."""

    rgb: str | None = None
    depth: str | None = None
    camera_info: str | None = None
    pose: str | None = None
    cloud: str | None = None
    tf: tuple[str, ...] = field(default=('/tf', '/tf_static'))


def _typestore() -> Any:
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_JAZZY)


def _stamp(header: Any) -> float:
    return header_frame_stamp(header)[1]


def _tf_matrix(tr: Any) -> np.ndarray:
    t, q = tr.translation, tr.rotation
    return pose_to_matrix([t.x, t.y, t.z], [q.x, q.y, q.z, q.w])


class TfBuffer:
    """Minimal tf2: static + time-stamped edges, chain lookup with interpolation."""

    def __init__(self, tolerance_s: float = 0.1) -> None:
        self.tolerance_s = tolerance_s
        self.static: dict[str, tuple[str, np.ndarray]] = {}
        self.dynamic: dict[str, tuple[str, list[float], list[np.ndarray]]] = {}

    def add(self, parent: str, child: str, T: np.ndarray, stamp: float, static: bool) -> None:
        parent, child = parent.lstrip('/'), child.lstrip('/')
        if static:
            self.static[child] = (parent, T)
            return
        _, times, mats = self.dynamic.setdefault(child, (parent, [], []))
        i = bisect.bisect(times, stamp)
        times.insert(i, stamp)
        mats.insert(i, T)

    def _edge(self, child: str, t: float) -> tuple[str, np.ndarray] | None:
        if child in self.static:
            return self.static[child]
        if child not in self.dynamic:
            return None
        parent, times, mats = self.dynamic[child]
        i = bisect.bisect(times, t)
        if i == 0 or i == len(times):
            j = 0 if i == 0 else len(times) - 1
            return (parent, mats[j]) if abs(times[j] - t) <= self.tolerance_s else None
        t0, t1 = times[i - 1], times[i]
        if min(t - t0, t1 - t) > self.tolerance_s and t1 - t0 > 2 * self.tolerance_s:
            return None
        return parent, _interpolate(mats[i - 1], mats[i], (t - t0) / max(t1 - t0, 1e-12))

    def _to_root(self, frame: str, t: float) -> tuple[str, np.ndarray, list[str]]:
        T, path = np.eye(4), [frame]
        while (edge := self._edge(frame, t)) is not None and len(path) < 64:
            frame, T = edge[0], compose(edge[1], T)
            path.append(frame)
        return frame, T, path

    def lookup(self, target: str, source: str, t: float) -> np.ndarray | None:
        """T_target_source at time t, or None when the chain is broken / out of tolerance."""
        root_a, T_ra, _ = self._to_root(target.lstrip('/'), t)
        root_b, T_rb, _ = self._to_root(source.lstrip('/'), t)
        if root_a != root_b:
            return None
        return compose(invert_transform(T_ra), T_rb)


def _interpolate(A: np.ndarray, B: np.ndarray, w: float) -> np.ndarray:
    """Linear translation + normalised-lerp rotation between two nearby poses."""
    ta, qa = matrix_to_pose(A)
    tb, qb = matrix_to_pose(B)
    if np.dot(qa, qb) < 0:
        qb = -qb
    return pose_to_matrix((1 - w) * ta + w * tb, (1 - w) * qa + w * qb)


def _pick(topics: dict[str, str], msgtype: str, want: str | None, hint: str | None = None,
          exclude: str | None = None, require_hint: bool = False) -> str | None:
    """``want`` if given, else the one topic of ``msgtype`` (``hint`` in its name wins)."""
    if want is not None:
        if want not in topics:
            raise GeodeError(f'topic {want!r} not in bag; topics: {sorted(topics)}')
        return want
    cands = [t for t, ty in topics.items() if ty == msgtype and t != exclude]
    hinted = [t for t in cands if hint and hint in t]
    if hinted or require_hint:
        cands = hinted
    if len(cands) > 1:
        raise GeodeError(f'several {msgtype} topics {cands}: choose one explicitly')
    return cands[0] if cands else None


def _open(path: str | Path) -> Any:
    from rosbags.highlevel import AnyReader

    p = Path(path)
    if not p.exists():
        raise GeodeError(f'bag not found: {p}')
    try:
        reader = AnyReader([p], default_typestore=_typestore())
        reader.open()
    except Exception as exc:  # rosbags raises several unrelated error types
        raise GeodeError(f'cannot open rosbag2 {p}: {exc}') from exc
    return reader


def read_rosbag(path: str | Path, topics: BagTopics | None = None, fixed_frame: str = 'map',
                camera_frame: str | None = None, slop_s: float = 0.05,
                depth_scale_16u: float = 0.001, tf_tolerance_s: float = 0.1
                ) -> Iterator[RGBDFrame]:
    """RGBDFrames (depth in metres, pose T_fixed_cam) from an RGB-D rosbag2."""
    topics = topics or BagTopics()
    reader = _open(path)
    try:
        types = {c.topic: c.msgtype for c in reader.connections}
        depth_t = _pick(types, IMAGE, topics.depth, hint='depth', require_hint=True)
        if depth_t is None:
            raise GeodeError(f'no depth Image topic in {path}; topics: {sorted(types)}')
        rgb_t = _pick(types, IMAGE, topics.rgb, hint='color', exclude=depth_t)
        info_t = _pick(types, INFO, topics.camera_info, hint='depth')
        if info_t is None:
            raise GeodeError(f'no CameraInfo topic in {path}: intrinsics are missing')
        pose_t = _pick(types, POSE, topics.pose)
        tf_ts = [t for t in topics.tf if types.get(t) == TF]
        if pose_t is None and not tf_ts:
            raise GeodeError(f'no /tf or PoseStamped topic in {path}: camera poses are missing')
        intr, tf, poses = None, TfBuffer(tf_tolerance_s), TfBuffer(tf_tolerance_s)
        small = [c for c in reader.connections if c.topic in {info_t, pose_t, *tf_ts}]
        for conn, _, raw in reader.messages(connections=small):
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.topic == info_t:
                intr = intr or intrinsics_from_camera_info(msg)
            elif conn.topic == pose_t:
                p, q = msg.pose.position, msg.pose.orientation
                poses.add(msg.header.frame_id, 'pose', pose_to_matrix(
                    [p.x, p.y, p.z], [q.x, q.y, q.z, q.w]), _stamp(msg.header), False)
            else:
                for tr in msg.transforms:
                    tf.add(tr.header.frame_id, tr.child_frame_id, _tf_matrix(tr.transform),
                           _stamp(tr.header), conn.topic.endswith('static'))
        if intr is None:
            raise GeodeError(f'CameraInfo topic {info_t} has no messages')
        images = [c for c in reader.connections if c.topic in {depth_t, rgb_t}]
        pending_rgb: collections.deque[tuple[float, Any]] = collections.deque(maxlen=64)
        pending_depth: collections.deque[tuple[float, Any]] = collections.deque(maxlen=64)
        skipped = 0

        def emit(rgb_msg: Any, depth_msg: Any) -> RGBDFrame | None:
            stamp = _stamp(depth_msg.header)
            cam = camera_frame or depth_msg.header.frame_id
            if pose_t is not None:
                T = poses.lookup(fixed_frame, 'pose', stamp)
            else:
                T = tf.lookup(fixed_frame, cam, stamp)
            if T is None:
                return None
            depth = decode_depth(depth_msg, depth_scale_16u)
            if rgb_msg is None:
                rgb = np.full((*depth.shape, 3), 128, np.uint8)
            else:
                rgb = decode_rgb(rgb_msg)
                if rgb.shape[:2] != depth.shape:
                    import cv2

                    rgb = cv2.resize(rgb, (depth.shape[1], depth.shape[0]))
            if depth.shape != (intr.height, intr.width):
                raise GeodeError(f'depth {depth.shape} does not match CameraInfo '
                                 f'{intr.height}x{intr.width}; pass the depth camera_info topic')
            return RGBDFrame(rgb, depth, intr, T, stamp, fixed_frame)

        def drain(final: bool) -> Iterator[tuple[Any, Any]]:
            while pending_depth:
                ts, dmsg = pending_depth[0]
                if rgb_t is None:
                    pending_depth.popleft()
                    yield None, dmsg
                    continue
                if not final and not (pending_rgb and pending_rgb[-1][0] >= ts):
                    return
                pending_depth.popleft()
                if not pending_rgb:
                    continue
                best = min(range(len(pending_rgb)), key=lambda i: abs(pending_rgb[i][0] - ts))
                if abs(pending_rgb[best][0] - ts) <= slop_s:
                    rmsg = pending_rgb[best][1]
                    for _ in range(best + 1):
                        pending_rgb.popleft()
                    yield rmsg, dmsg

        for conn, _, raw in reader.messages(connections=images):
            msg = reader.deserialize(raw, conn.msgtype)
            queue = pending_depth if conn.topic == depth_t else pending_rgb
            queue.append((_stamp(msg.header), msg))
            for pair in drain(False):
                frame = emit(*pair)
                skipped += frame is None
                if frame is not None:
                    yield frame
        for pair in drain(True):
            frame = emit(*pair)
            skipped += frame is None
            if frame is not None:
                yield frame
        if skipped:
            log.warning('%d RGB-D frames skipped: no pose %s -> camera at their stamps',
                        skipped, fixed_frame)
    finally:
        reader.close()


def read_rosbag_clouds(path: str | Path, cloud_topic: str | None = None,
                       fixed_frame: str = 'map', tf_tolerance_s: float = 0.1
                       ) -> Iterator[tuple[np.ndarray, np.ndarray | None, np.ndarray, float]]:
    """(xyz, rgb, T_fixed_sensor, stamp) for each PointCloud2 whose pose /tf resolves."""
    reader = _open(path)
    try:
        types = {c.topic: c.msgtype for c in reader.connections}
        topic = _pick(types, CLOUD, cloud_topic)
        if topic is None:
            raise GeodeError(f'no PointCloud2 topic in {path}')
        tf = TfBuffer(tf_tolerance_s)
        for conn, _, raw in reader.messages(
                connections=[c for c in reader.connections if c.msgtype == TF]):
            for tr in reader.deserialize(raw, conn.msgtype).transforms:
                tf.add(tr.header.frame_id, tr.child_frame_id, _tf_matrix(tr.transform),
                       _stamp(tr.header), conn.topic.endswith('static'))
        for conn, _, raw in reader.messages(
                connections=[c for c in reader.connections if c.topic == topic]):
            msg = reader.deserialize(raw, conn.msgtype)
            frame_id, stamp = header_frame_stamp(msg.header)
            T = tf.lookup(fixed_frame, frame_id, stamp)
            if T is not None:
                xyz, rgb = xyz_rgb_from_cloud(msg)
                yield xyz, rgb, T, stamp
    finally:
        reader.close()


# Static extrinsic used by write_rgbd_bag: camera optical frame on the robot body.
_T_BASE_CAM = compose(pose_to_matrix([0.1, 0.0, 0.3], [0.0, 0.0, 0.0, 1.0]),
                      np.block([[quat_xyzw_to_matrix([-0.5, 0.5, -0.5, 0.5]), np.zeros((3, 1))],
                                [np.zeros((1, 3)), np.ones((1, 1))]]))


def write_rgbd_bag(frames: Iterable[RGBDFrame], path: str | Path, storage: str = 'sqlite3',
                   pose_source: str = 'tf', with_cloud: bool = False,
                   depth_offset_s: float = 0.004) -> Path:
    """Record frames as a realistic RGB-D bag (map -> odom -> base_link -> camera TF chain).

    Topics: /camera/color/image_raw (rgb8), /camera/depth/image_rect_raw (16UC1 mm,
    stamped ``depth_offset_s`` later to exercise approximate sync), /camera/depth/camera_info,
    /tf + /tf_static or /camera/pose (PoseStamped), optionally /camera/depth/points.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer

    if storage not in ('sqlite3', 'mcap') or pose_source not in ('tf', 'pose'):
        raise GeodeError(f'storage must be sqlite3|mcap and pose_source tf|pose, got '
                         f'{storage!r}, {pose_source!r}')
    ts = _typestore()
    M = ts.types
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    cam = 'camera_depth_optical_frame'

    def header(t: float, frame: str) -> Any:
        sec = int(np.floor(t))
        return M['std_msgs/msg/Header'](
            stamp=M['builtin_interfaces/msg/Time'](sec=sec, nanosec=int(round((t - sec) * 1e9))),
            frame_id=frame)

    def transform(t: float, parent: str, child: str, T: np.ndarray) -> Any:
        tr, q = matrix_to_pose(T)
        return M['geometry_msgs/msg/TransformStamped'](
            header=header(t, parent), child_frame_id=child,
            transform=M['geometry_msgs/msg/Transform'](
                translation=M['geometry_msgs/msg/Vector3'](*map(float, tr)),
                rotation=M['geometry_msgs/msg/Quaternion'](*map(float, q))))

    def image(t: float, arr: np.ndarray, enc: str) -> Any:
        d = encode_image(arr, enc)
        d['data'] = np.frombuffer(d['data'], np.uint8)
        return M[IMAGE](header=header(t, cam), **d)

    T_map_odom = pose_to_matrix([0.5, -0.2, 0.0], [0.0, 0.0, 0.0, 1.0])
    out = Path(path)
    with Writer(out, version=9, storage_plugin=plugin) as writer:
        conns: dict[str, Any] = {}

        def write(topic: str, msgtype: str, msg: Any, t: float) -> None:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=ts)
            writer.write(conns[topic], int(t * 1e9), ts.serialize_cdr(msg, msgtype))

        for i, f in enumerate(frames):
            t = float(f.stamp) if f.stamp else i / 30.0
            td = t + depth_offset_s
            if i == 0 and pose_source == 'tf':
                write('/tf_static', TF, M[TF](transforms=[
                    transform(t, 'base_link', cam, _T_BASE_CAM),
                    transform(t, 'map', 'odom', T_map_odom)]), t)
            intr = f.intrinsics
            k = np.array([intr.fx, 0, intr.cx, 0, intr.fy, intr.cy, 0, 0, 1], np.float64)
            p = np.array([intr.fx, 0, intr.cx, 0, 0, intr.fy, intr.cy, 0, 0, 0, 1, 0], np.float64)
            write('/camera/depth/camera_info', INFO, M[INFO](
                header=header(td, cam), height=intr.height, width=intr.width,
                distortion_model=intr.distortion_model,
                d=np.asarray(intr.distortion, np.float64), k=k, r=np.eye(3).ravel(), p=p,
                binning_x=0, binning_y=0, roi=M['sensor_msgs/msg/RegionOfInterest'](
                    x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)), td)
            if pose_source == 'tf':
                T_odom_base = compose(invert_transform(T_map_odom), f.T_world_cam,
                                      invert_transform(_T_BASE_CAM))
                write('/tf', TF, M[TF](transforms=[transform(td, 'odom', 'base_link',
                                                             T_odom_base)]), td)
            else:
                tr, q = matrix_to_pose(f.T_world_cam)
                write('/camera/pose', POSE, M[POSE](header=header(td, 'map'), pose=M[
                    'geometry_msgs/msg/Pose'](position=M['geometry_msgs/msg/Point'](
                        *map(float, tr)), orientation=M['geometry_msgs/msg/Quaternion'](
                        *map(float, q)))), td)
            write('/camera/color/image_raw', IMAGE, image(t, f.rgb, 'rgb8'), t)
            mm = np.where(np.isfinite(f.depth), np.rint(f.depth * 1000.0), 0)
            write('/camera/depth/image_rect_raw', IMAGE,
                  image(td, np.clip(mm, 0, 65535).astype(np.uint16), '16UC1'), td)
            if with_cloud:
                xyz, rgb = depth_to_points(f.depth, intr, None, f.rgb, stride=4)
                c = create_cloud_xyzrgb(None, xyz, rgb)
                fields = [M['sensor_msgs/msg/PointField'](name=pf.name, offset=pf.offset,
                          datatype=pf.datatype, count=pf.count) for pf in c.fields]
                write('/camera/depth/points', CLOUD, M[CLOUD](
                    header=header(td, cam), height=c.height, width=c.width, fields=fields,
                    is_bigendian=c.is_bigendian, point_step=c.point_step, row_step=c.row_step,
                    data=np.frombuffer(c.data, np.uint8), is_dense=c.is_dense), td)
    return out
