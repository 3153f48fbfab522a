"""Everyday questions of a synthetic scene: the robot's query kinds in people's wording.

Beside VSI-Bench's templates (``qa_gen``), every scene gets questions as a robot's users
ask them (``paraphrase``): counts (also of classes that are not in the room: the answer
is 0), where (also of absent objects: not found), exists, list, distances between
objects and from the robot, sizes, the room's area, the nearest object, what is near an
object, the direction of an object from the robot and when it was last seen. Each
record carries its program (``program``) and ``style='everyday'``. "The robot" is the
camera at the walk's last frame (``scene.json`` ``robot_pose``); "last seen" is the
stamp of the last frame showing at least ``MIN_VISIBLE_PIXELS`` of the object.

Answers that sit on a decision boundary are not asked: a direction within
``SIDE_MARGIN_DEG`` of the ahead / behind bearings, a nearest object whose runner-up is
within ``NEAREST_MARGIN_M``, an object within ``NEAR_MARGIN_M`` of the near radius.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from geode_ros.data.paraphrase import phrase
from geode_ros.data.qa import QARecord
from geode_ros.data.qa_gen import SceneGT, round_robin
from geode_ros.data.scene_layout import CLASSES
from geode_ros.query.config import QueryConfig
from geode_ros.query.execute import side_of
from geode_ros.query.program import ROBOT, Program, convert_area, convert_length
from geode_ros.scene import boxgeom

SIDE_MARGIN_DEG = 10.0
NEAREST_MARGIN_M = 0.3
NEAR_MARGIN_M = 0.1
STYLE = 'everyday'


class EverydayGT(SceneGT):
    """SceneGT plus the robot (last camera pose) and each object's last-seen stamp."""

    def __init__(self, meta: dict[str, Any]) -> None:
        super().__init__(meta)
        self.fps = float(meta.get('fps', 1.0))
        pose = meta.get('robot_pose')
        self.robot = np.asarray(pose, np.float64) if pose is not None else None
        last: dict[int, int] = {}
        for view in meta.get('visibility', []):
            for k in view['pixels']:
                last[int(k)] = max(last.get(int(k), -1), int(view['frame']))
        self.last_frame = last
        self.all_labels = tuple(meta.get('classes') or CLASSES)

    def heading(self) -> np.ndarray:
        fwd = self.robot[:2, 2]
        return fwd / np.linalg.norm(fwd)

    def from_robot(self, box) -> float:
        return boxgeom.point_footprint_distance(self.robot[:3, 3], box)

    def bearing(self, box) -> float:
        h, v = self.heading(), np.asarray(box.center)[:2] - self.robot[:2, 3]
        return math.degrees(math.atan2(h[0] * v[1] - h[1] * v[0], float(h @ v)))


def _record(gt: EverydayGT, qtype: str, text: str, program: Program, answer: str,
            value: float | None = None, box: dict | None = None) -> QARecord:
    return QARecord(gt.name, text, qtype, answer, value, None, box, '', STYLE, program.text)


def _box(o) -> dict:
    b = o.box
    return {'label': o.label, 'center': [round(float(v), 6) for v in b.center],
            'size': [round(float(v), 6) for v in b.size], 'yaw': round(float(b.yaw), 6)}


def _absent(gt: EverydayGT) -> list[str]:
    return [c for c in gt.all_labels if c not in gt.by_label]


def record_for(gt: EverydayGT, program: Program, text: str) -> QARecord | None:
    """The ground-truth record of ``program`` (asked as ``text``) in this scene; None when
    it has no clear answer here: an object that must be unique is not, or the answer sits
    on a decision boundary (module docstring)."""
    kind, labels = program.kind, program.labels

    def unique(label: str):
        objs = gt.by_label.get(label, [])
        return objs[0] if len(objs) == 1 and label in gt.seen_labels else None

    if kind == 'count':
        n = len(gt.by_label.get(labels[0], []))
        return _record(gt, 'object_count', text, program, str(n), float(n))
    if kind == 'exists':
        present = labels[0] in gt.by_label
        return _record(gt, 'object_exists', text, program, 'yes' if present else 'no',
                       float(present))
    if kind == 'list':
        return _record(gt, 'object_list', text, program, ', '.join(gt.seen_labels))
    if kind == 'room_area':
        value = convert_area(float(gt.room[0] * gt.room[1]), program.unit)
        return _record(gt, 'room_size_estimation', text, program, f'{value:.1f}',
                       round(value, 4))
    if kind == 'where' and labels[0] not in gt.by_label:
        return _record(gt, 'grounding_3d', text, program,
                       f'There is no {labels[0]} in this scene.')
    if kind == 'nearest':
        return _nearest(gt, program, text)
    objs = [unique(label) for label in labels]
    if not objs or any(o is None for o in objs):
        return None
    if kind == 'where':
        return _record(gt, 'grounding_3d', text, program, objs[0].label, box=_box(objs[0]))
    if kind == 'size':
        size = objs[0].box.size
        value = convert_length(float(size[2] if program.dimension == 'height'
                                     else np.max(size)), program.unit)
        return _record(gt, 'object_size_estimation', text, program, f'{value:.2f}',
                       round(value, 4))
    if kind == 'distance' and program.reference != ROBOT:
        d = boxgeom.box_distance(objs[0].box, objs[1].box)[0]
        value = convert_length(d, program.unit)
        return None if d < 0.1 else _record(gt, 'object_abs_distance', text, program,
                                            f'{value:.2f}', round(value, 4))
    if gt.robot is not None and kind == 'distance':
        d = gt.from_robot(objs[0].box)
        value = convert_length(d, program.unit)
        return None if d < 0.1 else _record(gt, 'robot_distance', text, program,
                                            f'{value:.2f}', round(value, 4))
    if gt.robot is not None and kind == 'direction':
        angle, cfg = gt.bearing(objs[0].box), QueryConfig()
        edge = min(abs(abs(angle) - cfg.ahead_deg), abs(abs(angle) - cfg.behind_deg))
        return None if edge < SIDE_MARGIN_DEG else _record(
            gt, 'robot_direction', text, program, side_of(angle, cfg), round(angle, 2))
    if kind == 'near':
        return _near(gt, program, text, objs[0])
    if kind == 'last_seen' and objs[0].id in gt.last_frame:
        stamp = gt.last_frame[objs[0].id] / gt.fps
        return _record(gt, 'last_seen', text, program, f'{stamp:.2f}', round(stamp, 4))
    return None


def _nearest(gt: EverydayGT, program: Program, text: str) -> QARecord | None:
    if gt.robot is None or program.reference != ROBOT or not program.objects:
        return None
    label = program.labels[0]
    ranked = sorted(gt.by_label.get(label, []), key=lambda o: gt.from_robot(o.box))
    if not ranked or label not in gt.seen_labels or (len(ranked) > 1 and (
            gt.from_robot(ranked[1].box) - gt.from_robot(ranked[0].box) < NEAREST_MARGIN_M)):
        return None
    return _record(gt, 'nearest_object', text, program, label, box=_box(ranked[0]))


def _near(gt: EverydayGT, program: Program, text: str, anchor) -> QARecord | None:
    radius = program.radius_m or QueryConfig().near_radius_m
    dists = [(boxgeom.box_distance(anchor.box, o.box)[0], o.label) for o in gt.objects
             if o is not anchor and o.first_seen is not None]
    if any(abs(d - radius) < NEAR_MARGIN_M for d, _ in dists):
        return None
    near = sorted({label for d, label in dists if d <= radius})
    return _record(gt, 'objects_near', text, program, ', '.join(near), radius)


def _ask(kind: str, robot: bool = False, absent_share: float = 0.0, n: int = 1):
    """A generator of one everyday question of ``kind`` about ``n`` random seen classes (or,
    with ``absent_share``, sometimes a class that is not in the room)."""
    def make(gt: EverydayGT, rng: np.random.Generator) -> QARecord | None:
        absent = _absent(gt)
        if n == 1 and absent and rng.random() < absent_share:
            labels = [str(rng.choice(absent))]
        elif n and len(gt.seen_labels) >= n:
            labels = [str(c) for c in rng.choice(gt.seen_labels, size=n, replace=False)]
        elif n:
            return None
        else:
            labels = []
        text, program = phrase(kind, labels, rng, robot)
        return record_for(gt, program, text)
    return make


EVERYDAY: dict[str, Callable[[EverydayGT, np.random.Generator], QARecord | None]] = {
    'count': _ask('count', absent_share=0.3), 'where': _ask('where', absent_share=0.3),
    'exists': _ask('exists', absent_share=0.5), 'list': _ask('list', n=0),
    'distance': _ask('distance', n=2), 'size': _ask('size'), 'room_area': _ask('room_area', n=0),
    'robot_distance': _ask('distance', robot=True), 'direction': _ask('direction'),
    'nearest': _ask('nearest'), 'near': _ask('near'), 'last_seen': _ask('last_seen'),
}


def generate_everyday(meta: dict[str, Any], rng: np.random.Generator, n: int,
                      tries: int = 20) -> list[QARecord]:
    """Up to ``n`` distinct everyday records, the kinds taken in turn (round robin)."""
    return round_robin(EVERYDAY, EverydayGT(meta), rng, n, tuple(EVERYDAY), tries)
