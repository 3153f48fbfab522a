"""VSI-Bench-style QA generation from a synthetic scene's ground truth (scene.json).

Every answer is computed from the GT boxes; every record carries a spatial
chain-of-thought rationale (objects, their positions and extents in metres, the
arithmetic, the conclusion). Distances are exact closest-point distances between
the yaw-rotated boxes (see ``boxgeom.box_distance``). Directions use box centres in
the floor plane; samples whose answer lies within a safety margin of a decision
boundary are rejected, so no answer depends on rounding.

Only objects seen in at least one frame are asked about; a question that needs a
unique referent (distance, size, direction, route, grounding) uses classes with
exactly one instance in the scene.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from geode_ros.data.qa import (
    QUESTION_TYPES,
    ROBOT_TYPES,
    QARecord,
    format_options,
    option_letter,
)
from geode_ros.scene import boxgeom
from geode_ros.scene.types import Box3D

ROUTE_NOTE = ("(Note: for each [please fill in], choose either 'turn back,' 'turn left,' "
              "or 'turn right.')")
TURNS = ('turn back', 'turn left', 'turn right')
DIRECTION_OPTIONS = ('left', 'right', 'back')


@dataclass
class GTObject:
    id: int
    label: str
    box: Box3D
    first_seen: int | None


class SceneGT:
    """Ground truth of one scene, indexed for question generation."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.name = meta['scene']
        self.room = np.asarray(meta['room']['size'], dtype=np.float64)
        self.objects = [GTObject(o['id'], o['label'], Box3D.from_dict(o['box']),
                                 o.get('first_seen')) for o in meta['objects']]
        self.by_label: dict[str, list[GTObject]] = {}
        for o in self.objects:
            self.by_label.setdefault(o.label, []).append(o)
        # classes whose every instance is seen in the video
        self.seen_labels = sorted(k for k, v in self.by_label.items()
                                  if all(o.first_seen is not None for o in v))
        self.unique = sorted(k for k in self.seen_labels if len(self.by_label[k]) == 1)

    def one(self, label: str) -> GTObject:
        return self.by_label[label][0]

    def first_frame(self, label: str) -> int:
        return min(o.first_seen for o in self.by_label[label])


def _p(v: np.ndarray) -> str:
    return '(' + ', '.join(f'{x:.2f}' for x in v) + ')'


def describe(o: GTObject) -> str:
    """'The sofa spans x 0.40..2.40, y 3.10..4.00, z 0.00..0.85 (size ..., yaw ...).'"""
    lo, hi = boxgeom.world_extent(o.box)
    s = o.box.size
    text = (f'The {o.label} spans x {lo[0]:.2f}..{hi[0]:.2f}, y {lo[1]:.2f}..{hi[1]:.2f}, '
            f'z {lo[2]:.2f}..{hi[2]:.2f}')
    yaw = np.rad2deg(o.box.yaw)
    if abs((yaw + 45) % 90 - 45) > 0.5:  # not axis aligned: extents alone do not fix it
        text += f' (a {s[0]:.2f} x {s[1]:.2f} x {s[2]:.2f} m box turned {yaw:.0f} deg)'
    return text + '.'


def _bearing(v: np.ndarray) -> float:
    return float(np.rad2deg(np.arctan2(v[1], v[0])))


def _rel_angle(fwd: np.ndarray, v: np.ndarray) -> float:
    """Signed angle (deg) from ``fwd`` to ``v`` in the floor plane; positive = left (CCW)."""
    return float(np.rad2deg(np.arctan2(fwd[0] * v[1] - fwd[1] * v[0], fwd @ v)))


def _turn(angle: float, margin: float = 10.0) -> str | None:
    """Turn needed to face a direction ``angle`` deg away; None when ambiguous or straight."""
    a = abs(angle)
    if a >= 135 + margin:
        return 'turn back'
    if 45 + margin <= a <= 135 - margin:
        return 'turn left' if angle > 0 else 'turn right'
    return None


def _record(gt: SceneGT, qtype: str, question: str, answer: str, rationale: str,
            value: float | None = None, options: list[str] | None = None,
            box: dict | None = None) -> QARecord:
    return QARecord(gt.name, question, qtype, answer, value, options, box, rationale)


def _choice(gt: SceneGT, qtype: str, question: str, choices: list[str], correct: int,
            rationale: str) -> QARecord:
    letter = option_letter(correct)
    return _record(gt, qtype, question, letter,
                   f'{rationale} The answer is {letter}. {choices[correct]}.',
                   options=format_options(choices))


def q_object_count(gt: SceneGT, rng: np.random.Generator) -> QARecord | None:
    if not gt.seen_labels:
        return None
    multi = [k for k in gt.seen_labels if len(gt.by_label[k]) > 1]
    label = str(rng.choice(multi if multi and rng.random() < 0.7 else gt.seen_labels))
    objs = gt.by_label[label]
    where = '; '.join(f'{label} {i + 1} at {_p(o.box.center)}' for i, o in enumerate(objs))
    return _record(gt, 'object_count', f'How many {label}(s) are in this room?',
                   str(len(objs)), f'Looking for every {label} in the room: {where}. '
                   f'Counting them gives {len(objs)}.', value=float(len(objs)))


def _distance_rationale(a: GTObject, b: GTObject) -> tuple[float, str]:
    d, pa, pb = boxgeom.box_distance(a.box, b.box)
    dx, dy, dz = np.abs(pb - pa)
    return d, (f'{describe(a)} {describe(b)} The closest points are {_p(pa)} and {_p(pb)}. '
               f'Their distance is sqrt({dx:.2f}^2 + {dy:.2f}^2 + {dz:.2f}^2) = {d:.3f} m.')


def q_object_abs_distance(gt: SceneGT, rng: np.random.Generator) -> QARecord | None:
    if len(gt.unique) < 2:
        return None
    a, b = (gt.one(str(k)) for k in rng.choice(gt.unique, size=2, replace=False))
    d, why = _distance_rationale(a, b)
    if d < 0.1:  # touching objects: a relative accuracy around 0 is meaningless
        return None
    q = ('Measuring from the closest point of each object, what is the direct distance '
         f'between the {a.label} and the {b.label} (in meters)?')
    return _record(gt, 'object_abs_distance', q, f'{d:.1f}', why, value=round(d, 4))


def q_object_size(gt: SceneGT, rng: np.random.Generator) -> QARecord | None:
    if not gt.unique:
        return None
    o = gt.one(str(rng.choice(gt.unique)))
    cm = np.asarray(o.box.size) * 100.0
    k = int(np.argmax(cm))
    q = ('What is the length of the longest dimension (length, width, or height) of the '
         f'{o.label}, measured in centimeters?')
    why = (f'{describe(o)} Its box measures {cm[0]:.0f} x {cm[1]:.0f} cm on the floor and '
           f'{cm[2]:.0f} cm high. The longest dimension is the '
           f'{("length", "width", "height")[k]}: {cm[k]:.1f} cm.')
    return _record(gt, 'object_size_estimation', q, f'{cm[k]:.0f}', why, value=round(cm[k], 2))


def q_room_size(gt: SceneGT, rng: np.random.Generator) -> QARecord | None:
    W, L, H = gt.room
    q = ('What is the size of this room (in square meters)? If multiple rooms are shown, '
         'estimate the size of the combined space.')
    why = (f'The floor is a rectangle bounded by walls at x = 0 and x = {W:.2f}, y = 0 and '
           f'y = {L:.2f} (ceiling at {H:.2f} m). Its area is {W:.2f} x {L:.2f} = '
           f'{W * L:.2f} square meters.')
    return _record(gt, 'room_size_estimation', q, f'{W * L:.1f}', why, value=round(W * L, 4))


def q_object_rel_distance(gt: SceneGT, rng: np.random.Generator) -> QARecord | None:
    if not gt.unique or len(gt.seen_labels) < 4:
        return None
    a = gt.one(str(rng.choice(gt.unique)))
    cands = [k for k in gt.seen_labels if k != a.label]
    labels = [str(k) for k in rng.choice(cands, size=min(4, len(cands)), replace=False)]
    dists = [min(boxgeom.box_distance(a.box, o.box)[0] for o in gt.by_label[k]) for k in labels]
    order = np.argsort(dists)
    if dists[order[1]] - dists[order[0]] < max(0.15, 0.1 * dists[order[1]]):
        return None  # too close to call
    q = ('Measuring from the closest point of each object, which of these objects '
         f'({", ".join(labels)}) is the closest to the {a.label}?')
    listed = ', '.join(f'{k} {d:.2f} m' for k, d in zip(labels, dists))
    why = (f'{describe(a)} Closest-point distances from the {a.label} (nearest instance of '
           f'each category): {listed}. The smallest is the {labels[order[0]]} at '
           f'{dists[order[0]]:.2f} m.')
    return _choice(gt, 'object_rel_distance', q, labels, int(order[0]), why)


def _standing(gt: SceneGT, rng, n: int) -> list[GTObject] | None:
    if len(gt.unique) < n:
        return None
    return [gt.one(str(k)) for k in rng.choice(gt.unique, size=n, replace=False)]


def q_object_rel_direction(gt: SceneGT, rng: np.random.Generator) -> QARecord | None:
    objs = _standing(gt, rng, 3)
    if objs is None:
        return None
    a, b, c = objs
    fwd, v = (b.box.center - a.box.center)[:2], (c.box.center - a.box.center)[:2]
    if min(np.linalg.norm(fwd), np.linalg.norm(v)) < 0.5:
        return None
    ang = _rel_angle(fwd, v)
    if abs(ang) >= 145:
        ans = 'back'
    elif 30 <= abs(ang) <= 125:
        ans = 'left' if ang > 0 else 'right'
    else:
        return None  # in front, or too close to the 135 degree boundary
    q = (f'If I am standing by the {a.label} and facing the {b.label}, is the {c.label} to my '
         'left, right, or back? An object is to my back if I would have to turn at least 135 '
         'degrees in order to face it.')
    why = (f'Standing at the {a.label} {_p(a.box.center[:2])} and facing the {b.label} '
           f'{_p(b.box.center[:2])}, I look along bearing {_bearing(fwd):.0f} deg. The '
           f'{c.label} at {_p(c.box.center[:2])} lies at bearing {_bearing(v):.0f} deg, so I '
           f'would turn {ang:+.0f} deg (positive = counter-clockwise = left) to face it. '
           + ('That is at least 135 deg, so it is to my back.' if ans == 'back' else
              f'That is less than 135 deg to the {ans}, so it is to my {ans}.'))
    return _choice(gt, 'object_rel_direction', q, list(DIRECTION_OPTIONS),
                   DIRECTION_OPTIONS.index(ans), why)


def q_route_plan(gt: SceneGT, rng: np.random.Generator) -> QARecord | None:
    objs = _standing(gt, rng, 4 if len(gt.unique) >= 4 else 3)
    if objs is None:
        return None
    start, facing, *stops = objs
    heading = (facing.box.center - start.box.center)[:2]
    pos, turns, steps = start.box.center[:2], [], []
    for stop in stops:
        leg = stop.box.center[:2] - pos
        if np.linalg.norm(leg) < 0.5 or np.linalg.norm(heading) < 0.5:
            return None
        ang = _rel_angle(heading, leg)
        turn = _turn(ang)
        if turn is None:
            return None
        turns.append(turn)
        steps.append(f'heading {_bearing(heading):.0f} deg, the {stop.label} at '
                     f'{_p(stop.box.center[:2])} is at bearing {_bearing(leg):.0f} deg, a turn '
                     f'of {ang:+.0f} deg: {turn}, then go forward until the {stop.label}')
        pos, heading = stop.box.center[:2], leg
    dest = stops[-1].label
    actions = []
    for i, stop in enumerate(stops):
        actions += [f'{2 * i + 1}. [please fill in]', f'{2 * i + 2}. Go forward until the '
                    f'{stop.label}.']
    q = (f'You are a robot beginning at the {start.label} facing the {facing.label}. You want '
         f'to navigate to the {dest}. You will perform the following actions {ROUTE_NOTE}: '
         + ' '.join(actions) + ' You have reached the final destination.')
    combos = [', '.join(c) for c in itertools.product(TURNS, repeat=len(turns))]
    right = ', '.join(turns)
    wrong = [c for c in combos if c != right]
    choices = [right] + [str(c) for c in rng.choice(wrong, size=min(3, len(wrong)),
                                                     replace=False)]
    perm = rng.permutation(len(choices))
    choices = [choices[i] for i in perm]
    walk = '; '.join(f'Step {i + 1}: {s}' for i, s in enumerate(steps))
    why = (f'Start at the {start.label} {_p(start.box.center[:2])} facing the '
           f'{facing.label} {_p(facing.box.center[:2])}. {walk}. So the turns are: {right}.')
    return _choice(gt, 'route_plan', q, choices, choices.index(right), why)


def q_appearance_order(gt: SceneGT, rng: np.random.Generator) -> QARecord | None:
    picked: list[str] = []
    for k in rng.permutation(gt.seen_labels):
        if all(abs(gt.first_frame(str(k)) - gt.first_frame(p)) >= 1 for p in picked):
            picked.append(str(k))
        if len(picked) == 4:
            break
    if len(picked) < 4:
        return None
    right = sorted(picked, key=gt.first_frame)
    perms = {tuple(p) for p in (rng.permutation(picked) for _ in range(40))} - {tuple(right)}
    wrong = sorted(perms)
    if len(wrong) < 3:
        return None
    choices = [', '.join(right)] + [', '.join(wrong[i]) for i in
                                    rng.choice(len(wrong), size=3, replace=False)]
    perm = rng.permutation(4)
    choices, correct = [choices[i] for i in perm], int(np.argmax(perm == 0))
    q = ('What will be the first-time appearance order of the following categories in the '
         f'video: {", ".join(picked)}?')
    frames = ', '.join(f'{k} at frame {gt.first_frame(k)}' for k in right)
    why = (f'First frames in which each category is visible: {frames}. '
           f'So the order is {choices[correct]}.')
    return _choice(gt, 'obj_appearance_order', q, choices, correct, why)


# Share of grounding questions that ask about an object class absent from the scene.
ABSENT_GROUNDING_SHARE = 0.25


def q_absent_grounding(gt: SceneGT, rng: np.random.Generator) -> QARecord | None:
    """'Where is the X?' for a catalogue class with no instance in the room: no box."""
    from geode_ros.data.scene_layout import CLASSES

    absent = [c for c in CLASSES if c not in gt.by_label]
    if not absent:
        return None
    label = str(rng.choice(absent))
    why = f'Looking for a {label}: no {label} is visible in any frame of the video.'
    return _record(gt, 'grounding_3d', f'Where is the {label}? Give its 3D bounding box.',
                   f'There is no {label} in this scene.', why)


def q_grounding(gt: SceneGT, rng: np.random.Generator) -> QARecord | None:
    if rng.random() < ABSENT_GROUNDING_SHARE:
        return q_absent_grounding(gt, rng)
    if not gt.unique:
        return None
    o = gt.one(str(rng.choice(gt.unique)))
    b = o.box
    box = {'label': o.label, 'center': [round(float(v), 6) for v in b.center],
           'size': [round(float(v), 6) for v in b.size], 'yaw': round(float(b.yaw), 6)}
    yaw = np.rad2deg(b.yaw)
    ans = (f'The {o.label} is centred at {_p(b.center)} m, size {b.size[0]:.2f} x '
           f'{b.size[1]:.2f} x {b.size[2]:.2f} m, yaw {yaw:.0f} deg.')
    why = (f'The {o.label} first appears in frame {o.first_seen}. {describe(o)} Its box is '
           f'centred at {_p(b.center)} with size {_p(b.size)} m and yaw {yaw:.0f} deg.')
    return _record(gt, 'grounding_3d', f'Where is the {o.label}? Give its 3D bounding box.',
                   ans, why, box=box)


GENERATORS: dict[str, Callable[[SceneGT, np.random.Generator], QARecord | None]] = {
    'object_count': q_object_count,
    'object_abs_distance': q_object_abs_distance,
    'object_size_estimation': q_object_size,
    'room_size_estimation': q_room_size,
    'object_rel_distance': q_object_rel_distance,
    'object_rel_direction': q_object_rel_direction,
    'route_plan': q_route_plan,
    'obj_appearance_order': q_appearance_order,
    'grounding_3d': q_grounding,
}
assert set(GENERATORS) == set(QUESTION_TYPES) - set(ROBOT_TYPES)


def round_robin(generators: dict[str, Callable], gt: Any, rng: np.random.Generator, n: int,
                keys: tuple[str, ...], tries: int) -> list[QARecord]:
    """Up to ``n`` distinct records, the ``keys`` of ``generators`` taken in turn; a key is
    dropped once ``tries`` draws in a row gave nothing new (exhausted in this scene)."""
    out: list[QARecord] = []
    seen: set[str] = set()
    active = list(keys)
    while len(out) < n and active:
        for key in [str(k) for k in rng.permutation(active)]:
            if len(out) >= n:
                break
            for _ in range(tries):
                rec = generators[key](gt, rng)
                if rec is not None and rec.question not in seen:
                    seen.add(rec.question)
                    out.append(rec)
                    break
            else:
                active.remove(key)
    return out


def generate_qa(meta: dict[str, Any], rng: np.random.Generator, n: int,
                types: tuple[str, ...] = tuple(GENERATORS), tries: int = 30) -> list[QARecord]:
    """Up to ``n`` distinct QA records, balanced across ``types`` (round robin)."""
    return round_robin(GENERATORS, SceneGT(meta), rng, n, types, tries)
