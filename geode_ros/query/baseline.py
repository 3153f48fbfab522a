"""GeometricBaseline: a SceneReasoner with no learning, the engine's default.

It answers what pure geometry can (the room's floor area from the fused cloud) through
the same query layer as the model, and refuses questions about objects with a message
that says how to get a real model. Its lexicon holds the common household classes, so
"where is the mug?" is understood (and refused for want of a detector) while "where is
the piano?" is an unknown category as with a model.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.query.config import QueryConfig
from geode_ros.query.execute import execute
from geode_ros.query.lexicon import SYNONYMS, Lexicon
from geode_ros.query.memory import ObjectMemory, RobotPose
from geode_ros.query.pipeline import to_answer, understand
from geode_ros.scene.types import Answer, Box3D, RGBDFrame, SceneSnapshot


def floor_area(points: np.ndarray, cell: float = 0.1, min_hits: int = 2) -> float:
    """Floor area (m^2) of the xy footprint: occupancy grid with interior holes filled.

    A cell counts when it is occupied or lies between occupied cells both along
    its row and its column, so an empty floor enclosed by walls still counts.
    """
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    if xy.shape[0] == 0:
        return 0.0
    ij = np.floor((xy - xy.min(axis=0)) / cell).astype(np.int64)
    shape = tuple(ij.max(axis=0) + 1)
    hits = np.zeros(shape, np.int64)
    np.add.at(hits, (ij[:, 0], ij[:, 1]), 1)
    occ = hits >= min_hits
    if not occ.any():
        return 0.0
    rows_fill = _between(occ)
    cols_fill = _between(occ.T).T
    return float(np.count_nonzero(occ | (rows_fill & cols_fill)) * cell * cell)


def _between(occ: np.ndarray) -> np.ndarray:
    """Cells lying between the first and last occupied cell of their row."""
    seen_left = np.maximum.accumulate(occ, axis=1)
    seen_right = np.maximum.accumulate(occ[:, ::-1], axis=1)[:, ::-1]
    return seen_left & seen_right


def snapshot_robot(snapshot: SceneSnapshot) -> RobotPose | None:
    """The robot's pose in a snapshot (its newest sensor pose), None before any."""
    if snapshot.sensor_pose is None:
        return None
    return RobotPose.from_matrix(snapshot.sensor_pose, snapshot.sensor_forward_axis,
                                 snapshot.stamp)


class GeometricBaseline:
    """Answers room-size questions from geometry; anything about objects needs a model."""

    name = 'geometric-baseline'

    def __init__(self, cell_m: float = 0.1, query: QueryConfig | None = None) -> None:
        self.cell_m = float(cell_m)
        self.query_config = (query or QueryConfig()).validate()
        self.lexicon = Lexicon(tuple(SYNONYMS))

    def encode_keyframe(self, frame: RGBDFrame) -> Any:
        """No vision features: geometry only."""
        return None

    def detections(self, snapshot: SceneSnapshot) -> list[Box3D]:
        """No detector: geometry alone names no objects."""
        return []

    def answer(self, question: Any, snapshot: SceneSnapshot) -> Answer:
        """Room floor area for room-size questions; GeodeError (a QueryError) otherwise."""
        program = understand(question, self.lexicon)
        t0 = time.perf_counter()
        if program.kind == 'room_area' and snapshot.points.shape[0] == 0:
            raise GeodeError('no fused points yet: ingest depth before asking for room size')
        area = floor_area(snapshot.points, self.cell_m) if program.kind == 'room_area' else 0.0
        memory = ObjectMemory([], (), area, snapshot_robot(snapshot), snapshot.stamp,
                              snapshot.frame_id, has_detector=False)
        result = execute(program, memory, self.query_config)
        return to_answer(result, {'baseline_s': time.perf_counter() - t0})
