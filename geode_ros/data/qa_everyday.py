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
from geode_ros.data.qa_gen import SceneGT
from geode_ros.data.scene_layout import CLASSES
from geode_ros.query.config import QueryConfig
from geode_ros.query.execute import side_of
from geode_ros.query.program import Program, convert_area, convert_length
from geode_ros.scene import boxgeom

SIDE_MARGIN_DEG = 10.0
NEAREST_MARGIN_M = 0.3
NEAR_MARGIN_M = 0.2
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


def e_count(gt: EverydayGT, rng) -> QARecord | None:
    absent = _absent(gt)
    if absent and rng.random() < 0.3:
        label = str(rng.choice(absent))
    elif gt.seen_labels:
        label = str(rng.choice(gt.seen_labels))
    else:
        return None
    n = len(gt.by_label.get(label, []))
    text, prog = phrase('count', [label], rng)
    return _record(gt, 'object_count', text, prog, str(n), float(n))


def e_where(gt: EverydayGT, rng) -> QARecord | None:
    absent = _absent(gt)
    if absent and rng.random() < 0.3:
        label = str(rng.choice(absent))
        text, prog = phrase('where', [label], rng)
        return _record(gt, 'grounding_3d', text, prog, f'There is no {label} in this scene.')
    if not gt.unique:
        return None
    o = gt.one(str(rng.choice(gt.unique)))
    text, prog = phrase('where', [o.label], rng)
    return _record(gt, 'grounding_3d', text, prog, o.label, box=_box(o))


def e_exists(gt: EverydayGT, rng) -> QARecord | None:
    absent = _absent(gt)
    present = rng.random() < 0.5 or not absent
    pool = gt.seen_labels if present else absent
    if not pool:
        return None
    label = str(rng.choice(pool))
    text, prog = phrase('exists', [label], rng)
    return _record(gt, 'object_exists', text, prog, 'yes' if present else 'no',
                   float(present))


def e_list(gt: EverydayGT, rng) -> QARecord | None:
    if not gt.seen_labels:
        return None
    text, prog = phrase('list', [], rng)
    return _record(gt, 'object_list', text, prog, ', '.join(gt.seen_labels))


def e_distance(gt: EverydayGT, rng) -> QARecord | None:
    if len(gt.unique) < 2:
        return None
    a, b = (gt.one(str(k)) for k in rng.choice(gt.unique, size=2, replace=False))
    d = boxgeom.box_distance(a.box, b.box)[0]
    if d < 0.1:
        return None
    text, prog = phrase('distance', [a.label, b.label], rng)
    value = convert_length(d, prog.unit)
    return _record(gt, 'object_abs_distance', text, prog, f'{value:.2f}', round(value, 4))


def e_size(gt: EverydayGT, rng) -> QARecord | None:
    if not gt.unique:
        return None
    o = gt.one(str(rng.choice(gt.unique)))
    text, prog = phrase('size', [o.label], rng)
    metres = float(o.box.size[2] if prog.dimension == 'height' else np.max(o.box.size))
    value = convert_length(metres, prog.unit)
    return _record(gt, 'object_size_estimation', text, prog, f'{value:.2f}', round(value, 4))


def e_room(gt: EverydayGT, rng) -> QARecord | None:
    text, prog = phrase('room_area', [], rng)
    value = convert_area(float(gt.room[0] * gt.room[1]), prog.unit)
    return _record(gt, 'room_size_estimation', text, prog, f'{value:.1f}', round(value, 4))


def e_robot_distance(gt: EverydayGT, rng) -> QARecord | None:
    if gt.robot is None or not gt.unique:
        return None
    o = gt.one(str(rng.choice(gt.unique)))
    d = gt.from_robot(o.box)
    if d < 0.1:
        return None
    text, prog = phrase('distance', [o.label], rng, robot=True)
    value = convert_length(d, prog.unit)
    return _record(gt, 'robot_distance', text, prog, f'{value:.2f}', round(value, 4))


def e_direction(gt: EverydayGT, rng) -> QARecord | None:
    if gt.robot is None or not gt.unique:
        return None
    o = gt.one(str(rng.choice(gt.unique)))
    angle, cfg = gt.bearing(o.box), QueryConfig()
    if min(abs(abs(angle) - cfg.ahead_deg), abs(abs(angle) - cfg.behind_deg)) < SIDE_MARGIN_DEG:
        return None
    text, prog = phrase('direction', [o.label], rng)
    return _record(gt, 'robot_direction', text, prog, side_of(angle, cfg), round(angle, 2))


def e_nearest(gt: EverydayGT, rng) -> QARecord | None:
    if gt.robot is None or not gt.seen_labels:
        return None
    label = str(rng.choice(gt.seen_labels))
    ranked = sorted(gt.by_label[label], key=lambda o: gt.from_robot(o.box))
    if len(ranked) > 1 and (gt.from_robot(ranked[1].box) - gt.from_robot(ranked[0].box)
                            < NEAREST_MARGIN_M):
        return None
    text, prog = phrase('nearest', [label], rng)
    return _record(gt, 'nearest_object', text, prog, label, box=_box(ranked[0]))


def e_near(gt: EverydayGT, rng) -> QARecord | None:
    if not gt.unique:
        return None
    anchor = gt.one(str(rng.choice(gt.unique)))
    text, prog = phrase('near', [anchor.label], rng)
    radius = prog.radius_m or QueryConfig().near_radius_m
    dists = [(boxgeom.box_distance(anchor.box, o.box)[0], o.label) for o in gt.objects
             if o is not anchor and o.first_seen is not None]
    if any(abs(d - radius) < NEAR_MARGIN_M for d, _ in dists):
        return None
    near = sorted({label for d, label in dists if d <= radius})
    return _record(gt, 'objects_near', text, prog, ', '.join(near), radius)


def e_last_seen(gt: EverydayGT, rng) -> QARecord | None:
    seen = [k for k in gt.unique if gt.one(k).id in gt.last_frame]
    if not seen:
        return None
    o = gt.one(str(rng.choice(seen)))
    stamp = gt.last_frame[o.id] / gt.fps
    text, prog = phrase('last_seen', [o.label], rng)
    return _record(gt, 'last_seen', text, prog, f'{stamp:.2f}', round(stamp, 4))


EVERYDAY: dict[str, Callable[[EverydayGT, np.random.Generator], QARecord | None]] = {
    'count': e_count, 'where': e_where, 'exists': e_exists, 'list': e_list,
    'distance': e_distance, 'size': e_size, 'room_area': e_room,
    'robot_distance': e_robot_distance, 'direction': e_direction, 'nearest': e_nearest,
    'near': e_near, 'last_seen': e_last_seen,
}


def generate_everyday(meta: dict[str, Any], rng: np.random.Generator, n: int,
                      tries: int = 20) -> list[QARecord]:
    """Up to ``n`` distinct everyday records, the kinds taken in turn (round robin)."""
    gt = EverydayGT(meta)
    out: list[QARecord] = []
    seen: set[str] = set()
    active = list(EVERYDAY)
    while len(out) < n and active:
        for kind in [str(k) for k in rng.permutation(active)]:
            if len(out) >= n:
                break
            for _ in range(tries):
                rec = EVERYDAY[kind](gt, rng)
                if rec is not None and rec.question not in seen:
                    seen.add(rec.question)
                    out.append(rec)
                    break
            else:
                active.remove(kind)
    return out
