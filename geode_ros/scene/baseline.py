"""GeometricBaseline: a SceneReasoner with no learning, the engine's default.

It answers what pure geometry can (room floor area from the fused cloud) and
refuses the rest with a message that says how to get a real model.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.scene.types import Answer, Box3D, RGBDFrame, SceneSnapshot

_ROOM = re.compile(r'\b(room|rooms|space)\b', re.IGNORECASE)
_SIZE = re.compile(r'\b(size|area|big|large|square|footprint)\b', re.IGNORECASE)


def is_room_size_question(question: str) -> bool:
    """VSI-Bench style 'what is the size of this room (in square meters)?' questions."""
    return bool(_ROOM.search(question or '') and _SIZE.search(question or ''))


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


class GeometricBaseline:
    """Answers room-size questions from geometry; anything else needs a trained model."""

    name = 'geometric-baseline'

    def __init__(self, cell_m: float = 0.1) -> None:
        self.cell_m = float(cell_m)

    def encode_keyframe(self, frame: RGBDFrame) -> Any:
        """No vision features: geometry only."""
        return None

    def detections(self, snapshot: SceneSnapshot) -> list[Box3D]:
        """No detector: geometry alone names no objects."""
        return []

    def answer(self, question: str, snapshot: SceneSnapshot) -> Answer:
        """Room floor area for room-size questions, else GeodeError."""
        if not is_room_size_question(question):
            raise GeodeError(
                f'the geometric baseline can only answer room-size questions, not {question!r}; '
                'this question needs a trained model; load one with --model')
        if snapshot.points.shape[0] == 0:
            raise GeodeError('no fused points yet: ingest depth before asking for room size')
        t0 = time.perf_counter()
        area = floor_area(snapshot.points, self.cell_m)
        return Answer(
            text=f'The room is about {area:.1f} square meters.',
            values=[area], frame_id=snapshot.frame_id, stamp=snapshot.stamp,
            timings={'baseline_s': time.perf_counter() - t0},
            question_type='room_size_estimation',
        )
