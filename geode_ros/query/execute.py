"""Run a Program over an ObjectMemory: values, the objects used and a status.

One function per kind; nothing here writes prose (``render`` does) and nothing reads
answer text. Geometry: distances between objects are exact closest-point distances of
their yaw-rotated boxes; distances from the robot are measured in the floor plane from
the sensor to the object's footprint (the sensor's height does not matter to a robot
that drives there); directions are bearings in the floor plane from the robot heading,
positive to the left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from geode_ros.query.config import QueryConfig
from geode_ros.query.memory import MemoryObject, ObjectMemory
from geode_ros.query.program import (
    AMBIGUOUS,
    KINDS,
    NO_DETECTOR,
    NO_POSE,
    NOT_FOUND,
    OK,
    ROBOT,
    Program,
    QueryError,
    convert_area,
    convert_length,
)
from geode_ros.scene import boxgeom

TURNS = {'left': 'turn left', 'right': 'turn right', 'back': 'turn back'}


@dataclass
class Result:
    """What a program found: status, values with units, the objects used, and details
    the writer needs (the chosen option, a side, counts, how many candidates, ...)."""

    program: Program
    status: str = OK
    values: list[float] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    used: list[MemoryObject] = field(default_factory=list)
    detail: dict = field(default_factory=dict)
    low_confidence: bool = False
    frame_id: str = 'map'
    stamp: float = 0.0


def _distance(a: MemoryObject, b: MemoryObject) -> float:
    return float(boxgeom.box_distance(a.as_box3d(), b.as_box3d())[0])


def _from_robot(memory: ObjectMemory, o: MemoryObject) -> float:
    return boxgeom.point_footprint_distance(memory.robot.position, o.as_box3d())


def bearing_deg(memory: ObjectMemory, o: MemoryObject) -> float:
    """Signed angle (deg) from the robot heading to the object centre; positive = left."""
    h = memory.robot.heading
    v = o.center[:2] - memory.robot.position[:2]
    return math.degrees(math.atan2(h[0] * v[1] - h[1] * v[0], float(h @ v)))


def side_of(angle_deg: float, config: QueryConfig) -> str:
    """ahead / left / right / behind for a bearing."""
    a = abs(angle_deg)
    if a <= config.ahead_deg:
        return 'ahead'
    if a >= config.behind_deg:
        return 'behind'
    return 'left' if angle_deg > 0 else 'right'


def _turn(fwd: np.ndarray, v: np.ndarray) -> float:
    return math.degrees(math.atan2(fwd[0] * v[1] - fwd[1] * v[0], float(fwd @ v)))


class _Run:
    """One program's execution over one memory (keeps the kind functions short)."""

    def __init__(self, program: Program, memory: ObjectMemory, config: QueryConfig) -> None:
        self.p, self.m, self.cfg = program, memory, config
        self.result = Result(program, frame_id=memory.frame_id, stamp=memory.stamp)

    def need_robot(self) -> None:
        if self.m.robot is None:
            raise QueryError(NO_POSE, 'no robot pose yet: a question relative to the robot '
                                      'needs the camera pose of at least one frame', self.p)

    def pick(self, label: str) -> MemoryObject | None:
        """The one object 'the <label>' means: the only one, one clearly more confident
        than the others, or (ambiguous) the one nearest the robot."""
        cands = self.m.of(label)
        if not cands:
            return None
        if len(cands) == 1:
            return cands[0]
        if cands[0].score - cands[1].score >= self.cfg.ambiguity_margin:
            return cands[0]
        self.result.status = AMBIGUOUS
        self.result.detail.setdefault('candidates', {})[label] = len(cands)
        if self.m.robot is not None:
            return min(cands, key=lambda o: _from_robot(self.m, o))
        return cands[0]

    def found(self, labels: list[str]) -> list[MemoryObject] | None:
        """The objects of ``labels`` (one each); None and status not_found when any is
        missing (``detail['missing']`` names them)."""
        picked = [self.pick(label) for label in labels]
        missing = [label for label, o in zip(labels, picked) if o is None]
        if missing:
            self.result.status = NOT_FOUND
            self.result.detail['missing'] = missing
            return None
        return picked

    def length(self, metres: float) -> tuple[float, str]:
        unit = self.p.unit or 'm'
        return convert_length(metres, unit), unit


def execute(program: Program, memory: ObjectMemory, config: QueryConfig | None = None
            ) -> Result:
    """The Result of ``program`` over ``memory`` (QueryError when it cannot run)."""
    config = config or QueryConfig()
    if program.kind != 'room_area' and not memory.has_detector:
        raise QueryError(NO_DETECTOR, 'the geometric baseline detects no objects and can only '
                                      'answer room-size questions; load a model (model '
                                      'parameter, --model)', program)
    run = _Run(program.validate(), memory, config)
    KIND_RUNNERS[program.kind](run)
    r = run.result
    unsure = sorted({round(o.score, 2) for o in r.used if o.score < memory.confident_score})
    r.low_confidence = bool(unsure)
    if unsure:
        r.detail['uncertain_scores'] = unsure
    return r


def _count(run: _Run) -> None:
    objs = run.m.of(run.p.labels[0])
    run.result.values, run.result.units, run.result.used = [float(len(objs))], ['count'], objs


def _exists(run: _Run) -> None:
    objs = run.m.of(run.p.labels[0])
    run.result.values, run.result.units, run.result.used = [float(bool(objs))], ['bool'], objs


def _list(run: _Run) -> None:
    counts = run.m.counts()
    run.result.values = [float(n) for n in counts.values()]
    run.result.units = ['count'] * len(counts)
    run.result.detail['labels'] = list(counts)
    run.result.used = sorted(run.m.objects, key=lambda o: (o.label, -o.score))


def _where(run: _Run) -> None:
    arg = run.p.objects[0]
    if arg.plural:  # "where are the chairs": all of them
        objs = run.m.of(arg.label)
        if not objs:
            run.result.status, run.result.detail['missing'] = NOT_FOUND, [arg.label]
        run.result.used = objs
        return
    got = run.found([arg.label])
    run.result.used = got or []


def _distance_kind(run: _Run) -> None:
    if run.p.reference == ROBOT:
        run.need_robot()
        got = run.found(run.p.labels)
        if got:
            value, unit = run.length(_from_robot(run.m, got[0]))
            run.result.values, run.result.units, run.result.used = [value], [unit], got
        return
    got = run.found(run.p.labels[:2])
    if got:
        value, unit = run.length(_distance(got[0], got[1]))
        run.result.values, run.result.units, run.result.used = [value], [unit], got


def _size(run: _Run) -> None:
    got = run.found(run.p.labels)
    if got:
        size = got[0].size
        value, unit = run.length(size[2] if run.p.dimension == 'height' else float(size.max()))
        run.result.values, run.result.units, run.result.used = [value], [unit], got
        run.result.detail['dims_m'] = got[0].size.tolist()


def _room_area(run: _Run) -> None:
    area = run.m.room_area
    if not (math.isfinite(area) and area > 0):
        raise QueryError(NOT_FOUND, 'the room size is not known yet: ingest depth first',
                         run.p)
    unit = run.p.unit or 'm2'
    run.result.values, run.result.units = [convert_area(area, unit)], [unit]


def _nearest(run: _Run) -> None:
    p = run.p
    if p.reference == ROBOT:
        run.need_robot()
        cands = run.m.of(p.labels[0]) if p.objects else list(run.m.objects)
        key = lambda o: _from_robot(run.m, o)  # noqa: E731
    else:
        anchor = run.found(p.labels[1:])
        if anchor is None:
            return
        cands = [o for o in run.m.of(p.labels[0]) if o is not anchor[0]]
        key = lambda o: _distance(anchor[0], o)  # noqa: E731
    if not cands:
        run.result.status = NOT_FOUND
        run.result.detail['missing'] = p.labels[:1] or ['object']
        return
    best = min(cands, key=key)
    value, unit = run.length(key(best))
    run.result.values, run.result.units = [value], [unit]
    run.result.used = [best] + ([] if p.reference == ROBOT else anchor)
    run.result.detail['candidates_seen'] = len(cands)


def _near(run: _Run) -> None:
    got = run.found(run.p.labels)
    if not got:
        return
    anchor, radius = got[0], run.p.radius_m or run.cfg.near_radius_m
    near = sorted(((_distance(anchor, o), o) for o in run.m.objects if o is not anchor),
                  key=lambda t: t[0])
    near = [(d, o) for d, o in near if d <= radius]
    unit = run.p.unit or 'm'
    run.result.values = [convert_length(d, unit) for d, _ in near]
    run.result.units = [unit] * len(near)
    run.result.used = [anchor] + [o for _, o in near]
    run.result.detail['radius_m'] = radius


def _direction(run: _Run) -> None:
    run.need_robot()
    got = run.found(run.p.labels)
    if got:
        angle = bearing_deg(run.m, got[0])
        run.result.values = [angle, _from_robot(run.m, got[0])]
        run.result.units = ['deg', 'm']
        run.result.used = got
        run.result.detail['side'] = side_of(angle, run.cfg)


def _last_seen(run: _Run) -> None:
    objs = run.m.of(run.p.labels[0])
    if not objs:
        run.result.status, run.result.detail['missing'] = NOT_FOUND, run.p.labels
        return
    seen = [o for o in objs if math.isfinite(o.last_seen)]
    if not seen:
        run.result.used = objs[:1]
        return
    best = max(seen, key=lambda o: o.last_seen)
    run.result.values, run.result.units, run.result.used = [best.last_seen], ['s'], [best]
    run.result.detail['age_s'] = max(0.0, run.m.stamp - best.last_seen)


def _choose(run: _Run, text: str) -> None:
    """Record the computed answer, and the listed option it is (when options are listed)."""
    run.result.detail['computed'] = text
    options = run.p.options
    if not options:
        return
    exact = [f'{le}. {t}' for le, t in options if t.strip().lower() == text]
    if exact:
        run.result.detail['choice'] = exact[0]
        return
    want = [x.strip() for x in text.split(',')]

    def agree(option: str) -> int:
        return sum(a == b for a, b in zip([x.strip().lower() for x in option.split(',')], want))
    letter, opt = max(options, key=lambda lo: agree(lo[1]))
    run.result.detail['choice'] = f'{letter}. {opt}'


def _rel_distance(run: _Run) -> None:
    *cands, anchor_name = run.p.labels
    anchor = run.found([anchor_name])
    if anchor is None:
        return
    scored = [(min(_distance(anchor[0], o) for o in objs), name, objs)
              for name in dict.fromkeys(cands) if (objs := run.m.of(name))]
    if not scored:
        run.result.status, run.result.detail['missing'] = NOT_FOUND, cands
        return
    pick = max if run.p.extreme == 'farthest' else min
    dist, name, objs = pick(scored, key=lambda t: t[0])
    run.result.used = [anchor[0], min(objs, key=lambda o: _distance(anchor[0], o))]
    run.result.values, run.result.units = [dist], ['m']
    _choose(run, name)


def _rel_direction(run: _Run) -> None:
    got = run.found(run.p.labels[:3])
    if got:
        a, b, c = (o.center[:2] for o in got)
        ang = _turn(b - a, c - a)
        side = 'back' if abs(ang) >= run.cfg.behind_deg else ('left' if ang > 0 else 'right')
        run.result.used = got
        _choose(run, side)


def _route(run: _Run) -> None:
    stops = run.found(run.p.labels)
    if stops is None:
        return
    pos, heading = stops[0].center[:2], stops[1].center[:2] - stops[0].center[:2]
    turns = []
    for stop in stops[2:]:
        leg = stop.center[:2] - pos
        ang = _turn(heading, leg)
        side = 'back' if abs(ang) >= run.cfg.behind_deg else ('left' if ang > 0 else 'right')
        turns.append(TURNS[side])
        pos, heading = stop.center[:2], leg
    run.result.used = stops
    _choose(run, ', '.join(turns))


def _appearance_order(run: _Run) -> None:
    names = list(dict.fromkeys(run.p.labels))
    firsts = {n: min((o.first_index for o in run.m.of(n)), default=math.inf) for n in names}
    missing = [n for n in names if not math.isfinite(firsts[n])]
    if missing:
        run.result.status, run.result.detail['missing'] = NOT_FOUND, missing
        return
    order = sorted(names, key=lambda n: (firsts[n], names.index(n)))
    run.result.used = [min(run.m.of(n), key=lambda o: o.first_index) for n in order]
    _choose(run, ', '.join(order))


KIND_RUNNERS = {
    'count': _count, 'exists': _exists, 'list': _list, 'where': _where,
    'distance': _distance_kind, 'size': _size, 'room_area': _room_area, 'nearest': _nearest,
    'near': _near, 'direction': _direction, 'last_seen': _last_seen,
    'rel_distance': _rel_distance, 'rel_direction': _rel_direction, 'route': _route,
    'appearance_order': _appearance_order,
}
assert set(KIND_RUNNERS) == set(KINDS)
