"""Plain data types shared by perception, the model, the node and the tools.

Conventions used everywhere in geode_ros:
- Poses are 4x4 float64 homogeneous matrices ``T_world_cam`` (camera -> world).
- Camera frames are optical frames (x right, y down, z forward).
- Quaternions at ROS boundaries are (x, y, z, w); transforms3d uses (w, x, y, z).
- Boxes are axis-aligned in size, rotated by ``yaw`` about the world z axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics (pixels) plus optional distortion (OpenCV order)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion_model: str = 'plumb_bob'
    distortion: tuple[float, ...] = ()

    @property
    def matrix(self) -> np.ndarray:
        """3x3 camera matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def has_distortion(self) -> bool:
        return any(abs(c) > 0.0 for c in self.distortion)


@dataclass
class RGBDFrame:
    """One synchronised RGB-D observation with its camera pose in the fixed frame.

    ``rgb`` is HxWx3 uint8; ``depth`` is HxW float32 metres (invalid = 0 or NaN).
    """

    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: CameraIntrinsics
    T_world_cam: np.ndarray
    stamp: float = 0.0
    frame_id: str = 'map'


@dataclass
class Box3D:
    """A labelled 3D box: ``center`` (x, y, z) m, ``size`` (x, y, z extents) m, ``yaw`` rad."""

    label: str
    center: np.ndarray
    size: np.ndarray
    yaw: float = 0.0
    score: float = 1.0
    last_seen: float = math.nan  # stamp (s) of the last keyframe that showed it; NaN unknown

    def corners(self) -> np.ndarray:
        """The 8 corners, shape [8, 3], in the fixed frame."""
        sx, sy, sz = np.asarray(self.size, dtype=np.float64) / 2.0
        local = np.array([[x, y, z] for x in (-sx, sx) for y in (-sy, sy) for z in (-sz, sz)])
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        return local @ rot.T + np.asarray(self.center, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            'label': self.label,
            'center': [float(v) for v in self.center],
            'size': [float(v) for v in self.size],
            'yaw': float(self.yaw),
            'score': float(self.score),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Box3D:
        return cls(
            label=str(d.get('label', '')),
            center=np.asarray(d['center'], dtype=np.float64),
            size=np.asarray(d['size'], dtype=np.float64),
            yaw=float(d.get('yaw', 0.0)),
            score=float(d.get('score', 1.0)),
        )


@dataclass
class Answer:
    """What a spatial query returns: text plus the exact values and boxes behind it."""

    text: str
    values: list[float] = field(default_factory=list)
    boxes: list[Box3D] = field(default_factory=list)
    frame_id: str = 'map'
    stamp: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    question_type: str | None = None
    status: str = 'ok'  # ok, not_found, ambiguous or estimated (see geode_ros.query)
    program: dict[str, Any] = field(default_factory=dict)  # how the question was understood
    units: list[str] = field(default_factory=list)  # one per value: m, cm, m2, count, deg, s
    result: Any = None  # the query layer's Result (to write the answer in another frame)


@dataclass
class Keyframe:
    """A keyframe kept in the ring buffer; ``features`` is the cached vision encoding."""

    frame: RGBDFrame
    index: int
    features: Any = None


@dataclass
class SceneSnapshot:
    """A consistent, read-only view of scene memory handed to the reasoner.

    ``points`` [N, 3] float32 and ``colors`` [N, 3] uint8 are the fused cloud in
    the fixed frame; ``keyframes`` oldest first; ``point_stamps`` [N, 2] the stamps at
    which each point's voxel was first and last observed (when an object was first / last
    seen, for input with no keyframes: point clouds only).
    """

    points: np.ndarray
    colors: np.ndarray
    keyframes: list[Keyframe]
    frame_id: str
    stamp: float
    sensor_pose: np.ndarray | None = None  # [4, 4] latest sensor pose (the robot's view)
    sensor_forward_axis: int = 2  # the sensor axis it looks along (2: optical z)
    point_stamps: np.ndarray | None = None  # [N, 2] first / last stamp each voxel was seen


@runtime_checkable
class SceneReasoner(Protocol):
    """What the query engine needs from a model (GEODE or the geometric baseline)."""

    def encode_keyframe(self, frame: RGBDFrame) -> Any:
        """Vision features of one keyframe, computed once at insertion and cached."""
        ...

    def answer(self, question: Any, snapshot: SceneSnapshot) -> Answer:
        """Answer ``question`` (text, or a ``geode_ros.query`` Program) about ``snapshot``;
        raise GeodeError on bad input."""
        ...

    def detections(self, snapshot: SceneSnapshot) -> list[Box3D]:
        """The objects detected in ``snapshot`` (label, score, box); [] without a detector."""
        ...
