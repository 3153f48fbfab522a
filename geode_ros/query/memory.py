"""The object memory a program runs over: one consistent snapshot of what was detected.

Built once per cloud update by the reasoner (the model's detections with their boxes,
scores and first / last keyframe), plus the room's floor area and the robot's current
pose. Every query of that snapshot reads the same memory, so count, where, exists and
list always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from geode_ros.scene.types import Box3D


@dataclass
class MemoryObject:
    """One detected object."""

    label: str
    score: float
    box: np.ndarray  # [7] cx, cy, cz, sx, sy, sz, yaw in the memory's frame
    first_index: float = math.inf  # first keyframe (oldest = 0) that shows it; inf unknown
    first_seen: float = math.nan  # stamp (s) of that keyframe
    last_seen: float = math.nan  # stamp (s) of the last keyframe that shows it

    @property
    def center(self) -> np.ndarray:
        return np.asarray(self.box[:3], np.float64)

    @property
    def size(self) -> np.ndarray:
        return np.asarray(self.box[3:6], np.float64)

    def as_box3d(self) -> Box3D:
        b = np.asarray(self.box, np.float64)
        return Box3D(self.label, b[:3].copy(), b[3:6].copy(), float(b[6]), float(self.score),
                     last_seen=float(self.last_seen))


@dataclass
class RobotPose:
    """Where the robot's sensor is and which way it looks, in the memory's frame."""

    position: np.ndarray  # [3]
    heading: np.ndarray  # [2] unit vector in the floor plane
    stamp: float = 0.0

    @classmethod
    def from_matrix(cls, T_world_sensor: np.ndarray, forward_axis: int = 2,
                    stamp: float = 0.0) -> RobotPose | None:
        """From a sensor pose; ``forward_axis`` is the sensor axis it looks along (2 = z of
        a camera optical frame, 0 = x of a REP 103 body frame). None when the sensor looks
        straight up or down (no heading in the floor plane)."""
        T = np.asarray(T_world_sensor, np.float64)
        fwd = T[:2, forward_axis]
        norm = float(np.hypot(*fwd))
        if not np.isfinite(norm) or norm < 1e-6:
            return None
        return cls(T[:3, 3].copy(), fwd / norm, float(stamp))


@dataclass
class ObjectMemory:
    """Detections, room and robot of one snapshot (see the module docstring)."""

    objects: list[MemoryObject] = field(default_factory=list)
    classes: tuple[str, ...] = ()  # what the detector can name
    room_area: float = math.nan  # m^2 of the floor, NaN when unknown
    robot: RobotPose | None = None
    stamp: float = 0.0
    frame_id: str = 'map'
    has_detector: bool = True  # False: nothing can be said about objects (no model)
    confident_score: float = 0.0  # the detector's: below it a detection is uncertain

    def of(self, label: str) -> list[MemoryObject]:
        """The detections of one class, most confident first."""
        return sorted((o for o in self.objects if o.label == label), key=lambda o: -o.score)

    def counts(self) -> dict[str, int]:
        """Detections per class, by class name."""
        out: dict[str, int] = {}
        for o in sorted(self.objects, key=lambda o: o.label):
            out[o.label] = out.get(o.label, 0) + 1
        return out
