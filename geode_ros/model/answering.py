"""The model's side of the query layer: its detections as the object memory, and the LLM's
estimate where a benchmark-style question names an object that was not detected.

Every answer of ``GeodeModel`` goes one way: the question becomes a program
(``geode_ros.query``), the program runs over the memory built here from the DRM's
detections, and the one writer renders it. The LLM + DRH reading is kept beside it
(``extras['llm']``) and answers only as an explicit estimate (status ``estimated``):
for a distance, size or choice whose object is missing, never for a count, a
location or an existence question (a class never detected is counted 0).
"""

from __future__ import annotations

import math

import numpy as np

from geode_ros.model.config import CHOICE_TYPES, NUMERIC_TYPES
from geode_ros.model.objects import Detection
from geode_ros.query.execute import Result
from geode_ros.query.memory import MemoryObject, ObjectMemory, RobotPose
from geode_ros.query.program import ESTIMATED, NOT_FOUND, Program, convert_area, convert_length
from geode_ros.query.render import quantity

# The units the DRH regresses each numeric type in (its training targets).
DRH_UNITS = {'object_count': 'count', 'object_abs_distance': 'm',
             'object_size_estimation': 'cm', 'room_size_estimation': 'm2'}
NEVER_ESTIMATED = ('count', 'where', 'exists')


def _stamp(index: float, stamps: list[float]) -> float:
    if not math.isfinite(index) or not stamps:
        return math.nan
    i = int(index)
    return float(stamps[i]) if 0 <= i < len(stamps) else math.nan


def memory_of(detections: list[Detection], classes: tuple[str, ...], room_area: float,
              keyframe_stamps: list[float], sensor_pose: np.ndarray | None,
              forward_axis: int = 2, stamp: float = 0.0, frame_id: str = 'map',
              confident_score: float = 0.0) -> ObjectMemory:
    """The ObjectMemory of one scene's detections (keyframe indices become stamps)."""
    objects = [MemoryObject(d.label, float(d.score), np.asarray(d.box, np.float64),
                            float(d.first_seen), _stamp(d.first_seen, keyframe_stamps),
                            _stamp(d.last_seen, keyframe_stamps)) for d in detections]
    robot = (RobotPose.from_matrix(sensor_pose, forward_axis, stamp)
             if sensor_pose is not None else None)
    return ObjectMemory(objects, tuple(classes), float(room_area), robot, float(stamp),
                        frame_id, confident_score=confident_score)


def can_estimate(program: Program, result: Result) -> bool:
    """A benchmark-style question whose object was missing: the LLM may estimate it."""
    return (result.status == NOT_FOUND and program.kind not in NEVER_ESTIMATED
            and program.qtype in (*NUMERIC_TYPES, *CHOICE_TYPES))


def estimated(program: Program, result: Result, text: str, values: list[float]) -> Result:
    """``result`` answered by the LLM's reading (its text / DRH value), marked estimated."""
    qtype = program.qtype
    if qtype in CHOICE_TYPES:
        if not text:
            return result
        result.status, result.detail['estimate_text'] = ESTIMATED, text
        result.detail['choice'] = text
        return result
    if not values or not math.isfinite(values[0]):
        return result
    value, unit = float(values[0]), DRH_UNITS[qtype]
    if unit in ('m', 'cm'):
        metres = value * (0.01 if unit == 'cm' else 1.0)
        unit = program.unit or ('cm' if unit == 'cm' else 'm')
        value = convert_length(metres, unit)
    elif unit == 'm2':
        unit = program.unit or 'm2'
        value = convert_area(value, unit)
    result.status, result.values, result.units = ESTIMATED, [value], [unit]
    result.detail['estimate_text'] = quantity(value, unit)
    return result
