"""SpatialQueryEngine: ROS-free scene memory plus question answering.

Threading: one lock guards every mutation. ``ingest`` does the heavy work
(back-projection, feature encoding) outside the lock and only merges under it;
``query`` copies a snapshot under the lock and reasons outside it, so sensor
callbacks keep flowing while a slow model thinks.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.query.baseline import GeometricBaseline
from geode_ros.scene.config import SceneConfig
from geode_ros.scene.depth import depth_to_points
from geode_ros.scene.geometry import check_pose, transform_points
from geode_ros.scene.keyframes import FusedCloud, KeyframeBuffer
from geode_ros.scene.types import (
    Answer,
    Box3D,
    CameraIntrinsics,
    Keyframe,
    RGBDFrame,
    SceneReasoner,
    SceneSnapshot,
)

OPTICAL_FORWARD_AXIS = 2  # a camera optical frame looks along its z axis


class SpatialQueryEngine:
    """Bounded 3D scene memory fed with RGB-D frames or clouds, queried in natural language."""

    def __init__(self, config: SceneConfig | None = None,
                 reasoner: SceneReasoner | None = None) -> None:
        self.config = (config if config is not None else SceneConfig()).validate()
        self._lock = threading.RLock()
        self._reasoner: SceneReasoner = reasoner if reasoner is not None else GeometricBaseline()
        c = self.config
        self._keyframes = KeyframeBuffer(c.max_keyframes, c.keyframe_translation_m,
                                         c.keyframe_rotation_deg, self._reasoner.encode_keyframe)
        self._cloud = FusedCloud(c.voxel_size_m, c.max_points)
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._frames = 0
        self._clouds = 0
        self._queries = 0
        self._stamp = 0.0
        self._last_query_s = 0.0
        self._sensor: tuple[float, np.ndarray, int] | None = None  # (stamp, pose, fwd axis)

    def _note_sensor_locked(self, T: np.ndarray, stamp: float, forward_axis: int) -> None:
        """Keep the newest sensor pose: where the robot is and looks, for its queries."""
        if self._sensor is None or float(stamp) >= self._sensor[0]:
            self._sensor = (float(stamp), np.array(T, np.float64), int(forward_axis))

    # ---------------------------------------------------------------- ingest
    def _check_frame_id(self, frame_id: str | None) -> None:
        if frame_id and frame_id != self.config.fixed_frame:
            raise GeodeError(f'pose is given in frame {frame_id!r} but scene memory is in '
                             f'{self.config.fixed_frame!r}; transform it or set fixed_frame')

    def _as_depth_m(self, depth: Any, intr: CameraIntrinsics) -> np.ndarray:
        d = np.asarray(depth)
        if d.ndim == 3 and d.shape[2] == 1:
            d = d[..., 0]
        if d.shape != (intr.height, intr.width):
            raise GeodeError(f'depth shape {d.shape} does not match intrinsics '
                             f'{intr.height}x{intr.width}')
        if d.dtype == np.uint16:
            return d.astype(np.float32) * np.float32(self.config.depth_scale_16u)
        if d.dtype in (np.float32, np.float64):
            return d.astype(np.float32)  # a copy: callers may reuse their buffers
        raise GeodeError(f'depth must be uint16 millimetres or float32 metres, got {d.dtype}')

    def ingest(self, rgb: np.ndarray | None, depth: np.ndarray, intrinsics: CameraIntrinsics,
               T_world_cam: np.ndarray, stamp: float = 0.0, frame_id: str | None = None,
               fuse_all: bool | None = None) -> bool:
        """Add one RGB-D frame; True when it became a keyframe.

        ``fuse_all`` overrides ``config.fuse_all_frames`` for this frame (a live node
        falls back to keyframes only while it is behind).
        """
        if not isinstance(intrinsics, CameraIntrinsics):
            raise GeodeError(f'intrinsics must be CameraIntrinsics, got {type(intrinsics)}')
        self._check_frame_id(frame_id)
        T = check_pose(T_world_cam, 'T_world_cam')
        want = (intrinsics.height, intrinsics.width, 3)
        if rgb is not None and (np.shape(rgb) != want or np.asarray(rgb).dtype != np.uint8):
            raise GeodeError(f'rgb must be uint8 {want}, got {np.shape(rgb)} '
                             f'{np.asarray(rgb).dtype}')
        raw = np.asarray(depth)
        if raw.shape not in (want[:2], (*want[:2], 1)) or raw.dtype not in (
                np.uint16, np.float32, np.float64):
            raise GeodeError(f'depth must be {want[:2]} uint16 millimetres or float32 metres, '
                             f'got {raw.shape} {raw.dtype}')
        fuse_all = self.config.fuse_all_frames if fuse_all is None else fuse_all
        with self._lock:
            self._note_sensor_locked(T, stamp, OPTICAL_FORWARD_AXIS)
        if not fuse_all:
            with self._lock:  # cheap early out: no copies for frames that are not keyframes
                if not self._keyframes.should_insert(T):
                    self._frames += 1
                    self._stamp = max(self._stamp, float(stamp))
                    return False
        d = self._as_depth_m(raw, intrinsics)
        if rgb is None:
            colour = np.full(want, 128, np.uint8)
        else:
            colour = np.array(rgb, copy=True)
        frame = RGBDFrame(colour, d, intrinsics, T, float(stamp), self.config.fixed_frame)
        return self._ingest(frame, fuse_all)

    def ingest_frame(self, frame: RGBDFrame) -> bool:
        """``ingest`` for an RGBDFrame (frames folder, rosbag reader)."""
        return self.ingest(frame.rgb, frame.depth, frame.intrinsics, frame.T_world_cam,
                           frame.stamp, frame.frame_id)

    def _ingest(self, frame: RGBDFrame, fuse_all: bool) -> bool:
        c = self.config
        with self._lock:
            is_kf = self._keyframes.should_insert(frame.T_world_cam)
            encode, generation = self._keyframes.encode, self._keyframes.generation
            self._frames += 1
            self._stamp = max(self._stamp, frame.stamp)
        if not (is_kf or fuse_all):
            return False
        xyz, rgb = depth_to_points(frame.depth, frame.intrinsics, frame.T_world_cam, frame.rgb,
                                   c.min_depth_m, c.max_depth_m, c.depth_stride)
        features = encode(frame) if (is_kf and encode is not None) else None
        with self._lock:
            self._cloud.add(xyz, rgb, frame.stamp)
            if is_kf:
                self._keyframes.add(frame, features, generation, encode_now=False)
        return is_kf

    def ingest_points(self, xyz: np.ndarray, rgb: np.ndarray | None, T_world_sensor: np.ndarray,
                      stamp: float = 0.0, frame_id: str | None = None,
                      forward_axis: int = OPTICAL_FORWARD_AXIS) -> int:
        """Fuse a sensor-frame cloud (e.g. PointCloud2); returns how many points were kept.
        ``forward_axis``: the sensor axis it looks along (2: an optical frame's z, 0: x of a
        REP 103 body frame), which is the robot's heading for its queries."""
        self._check_frame_id(frame_id)
        T = check_pose(T_world_sensor, 'T_world_sensor')
        pts = np.asarray(xyz)
        if pts.ndim != 2 or pts.shape[1] != 3 or pts.dtype.kind != 'f':
            raise GeodeError(f'xyz must be a float [N, 3] array, got {pts.shape} {pts.dtype}')
        if rgb is not None:
            rgb = np.asarray(rgb)
            if rgb.shape != pts.shape or rgb.dtype != np.uint8:
                raise GeodeError(f'rgb must be uint8 {pts.shape}, got {rgb.shape} {rgb.dtype}')
        ok = np.all(np.isfinite(pts), axis=1)
        world = transform_points(T, pts[ok])
        colours = rgb[ok] if rgb is not None else None
        with self._lock:
            self._cloud.add(world, colours, float(stamp))
            self._note_sensor_locked(T, stamp, forward_axis)
            self._clouds += 1
            self._stamp = max(self._stamp, float(stamp))
        return int(ok.sum())

    # ----------------------------------------------------------------- query
    def _snapshot_locked(self) -> tuple[SceneSnapshot, list[Keyframe]]:
        xyz, rgb = self._cloud.points()
        originals = self._keyframes.keyframes()
        kfs = [Keyframe(kf.frame, kf.index, kf.features) for kf in originals]
        snap = SceneSnapshot(xyz, rgb, kfs, self.config.fixed_frame, self._stamp,
                             point_stamps=self._cloud.stamps())
        if self._sensor is not None:
            snap.sensor_pose, snap.sensor_forward_axis = self._sensor[1].copy(), self._sensor[2]
        return snap, originals

    def snapshot(self) -> SceneSnapshot:
        """A consistent copy of scene memory (cloud arrays are fresh; frames are shared)."""
        with self._lock:
            return self._snapshot_locked()[0]

    def query(self, question: Any) -> Answer:
        """Answer ``question`` (text, or a ``geode_ros.query`` Program a planner built) about
        the current memory; GeodeError on empty memory or an empty question."""
        if isinstance(question, str):
            if not question.strip():
                raise GeodeError('question is empty: ask something like "how big is this '
                                 'room?"')
            question = question.strip()
        elif question is None:
            raise GeodeError('question is empty: ask something like "how big is this room?"')
        t0 = time.perf_counter()
        with self._lock:
            if len(self._cloud) == 0 and len(self._keyframes) == 0:
                raise GeodeError('scene memory is empty: ingest RGB-D frames or point clouds '
                                 'before asking')
            snap, originals = self._snapshot_locked()
            reasoner = self._reasoner
            encode, generation = self._keyframes.encode, self._keyframes.generation
        t1 = time.perf_counter()
        if encode is not None:  # lazy (re-)encoding after set_reasoner
            for kf, orig in zip(snap.keyframes, originals):
                if kf.features is None:
                    kf.features = encode(kf.frame)
                    with self._lock:
                        if self._keyframes.generation == generation:
                            orig.features = kf.features
        t2 = time.perf_counter()
        answer = reasoner.answer(question, snap)
        t3 = time.perf_counter()
        answer.frame_id, answer.stamp = snap.frame_id, snap.stamp
        answer.timings = {**answer.timings, 'snapshot_s': t1 - t0, 'encode_s': t2 - t1,
                          'reason_s': t3 - t2, 'total_s': t3 - t0}
        with self._lock:
            self._queries += 1
            self._last_query_s = t3 - t0
        return answer

    def detections(self) -> list[Box3D]:
        """The reasoner's object detections in the current memory (fixed frame), for a
        detections topic; empty when memory is empty or the reasoner detects nothing."""
        with self._lock:
            if len(self._cloud) == 0:
                return []
            snap, _ = self._snapshot_locked()
            reasoner = self._reasoner
        return list(reasoner.detections(snap))

    # ------------------------------------------------------------ management
    def set_reasoner(self, reasoner: SceneReasoner | None) -> None:
        """Swap the model; cached keyframe features are dropped and re-encoded lazily."""
        with self._lock:
            self._reasoner = reasoner if reasoner is not None else GeometricBaseline()
            self._keyframes.set_encoder(self._reasoner.encode_keyframe)

    @property
    def reasoner(self) -> SceneReasoner:
        return self._reasoner

    def reset(self) -> None:
        """Forget everything seen (the reasoner stays)."""
        with self._lock:
            self._keyframes.clear()
            self._cloud.clear()
            self._reset_counters()

    def stats(self) -> dict[str, Any]:
        """Counters and memory use, for diagnostics topics and benchmarks."""
        with self._lock:
            return {
                'frames_ingested': self._frames,
                'clouds_ingested': self._clouds,
                'keyframes': len(self._keyframes),
                'keyframe_capacity': self._keyframes.capacity,
                'points': len(self._cloud),
                'point_capacity': self._cloud.max_points,
                'memory_bytes': self._cloud.nbytes() + self._keyframes.nbytes(),
                'queries': self._queries,
                'last_query_s': self._last_query_s,
                'stamp': self._stamp,
                'fixed_frame': self.config.fixed_frame,
                'reasoner': getattr(self._reasoner, 'name', type(self._reasoner).__name__),
            }
