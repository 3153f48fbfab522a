"""Query programs: what a question asks, as a small typed value.

A question, free text or a planner's structured request, becomes one ``Program``:
a kind (count, where, distance, ...), the objects it is about (canonical class names
of the detector's vocabulary, with the words the asker used), an optional reference
(the robot) and the unit asked for. The program is what runs over the object memory
(``execute``) and what the service reply reports as "how the question was understood".

Every program has a canonical text form, ``distance(sofa, tv; unit=cm)``, which is
also the grammar the VLM writes when the rules cannot parse a question
(``program_pattern``): ``kind(arg, arg; key=value)`` with class names as arguments,
``robot`` as the first argument of a distance from the robot, and ``unit`` / ``radius``
as the only keys.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from geode_ros.errors import GeodeError

# Statuses of an answered or refused query (the service reply's ``status``).
OK, NOT_FOUND, AMBIGUOUS, ESTIMATED = 'ok', 'not_found', 'ambiguous', 'estimated'
UNKNOWN_CATEGORY, CANNOT_PARSE, NO_DETECTOR, NO_POSE = (
    'unknown_category', 'cannot_parse', 'no_detector', 'no_pose')
ANSWERED = (OK, NOT_FOUND, AMBIGUOUS, ESTIMATED)
REFUSED = (UNKNOWN_CATEGORY, CANNOT_PARSE, NO_DETECTOR, NO_POSE)

ROBOT = 'robot'
NONE = 'none'  # what a VLM writes for a question that is no query about the scene
# metres per unit
LENGTH_UNITS: dict[str, float] = {'m': 1.0, 'cm': 0.01, 'mm': 0.001, 'ft': 0.3048, 'in': 0.0254}
# square metres per unit
AREA_UNITS: dict[str, float] = {'m2': 1.0, 'ft2': 0.09290304}


@dataclass(frozen=True)
class KindSpec:
    """What a kind takes and what it answers with."""

    min_objects: int
    max_objects: int
    robot: str  # 'never', 'optional' (distance: robot or a second object) or 'implied'
    units: str  # 'length', 'area' or '' (no unit)
    qtype: str = ''  # the VSI-Bench question type with the same meaning, if any
    options: bool = False  # answered by picking one of the question's listed options
    help: str = ''


MANY = 8  # most object arguments any kind takes
KINDS: dict[str, KindSpec] = {
    'count': KindSpec(1, 1, 'never', '', 'object_count', help='how many A are there'),
    'where': KindSpec(1, 1, 'never', '', 'grounding_3d', help='the 3D box of A'),
    'exists': KindSpec(1, 1, 'never', '', help='is there an A'),
    'list': KindSpec(0, 0, 'never', '', help='every object seen, with counts'),
    'distance': KindSpec(1, 2, 'optional', 'length', 'object_abs_distance',
                         help='closest-point distance between A and B, or from the robot '
                              'to A (floor plane)'),
    'size': KindSpec(1, 1, 'never', 'length', 'object_size_estimation',
                     help="A's dimensions; the value is its longest side"),
    'room_area': KindSpec(0, 0, 'never', 'area', 'room_size_estimation',
                          help='floor area of the room'),
    'nearest': KindSpec(0, 2, 'implied', 'length',
                        help='the A nearest to the robot (any object when no A), or the A '
                             'nearest to B'),
    'near': KindSpec(1, 1, 'never', 'length', help='objects within a radius of A'),
    'direction': KindSpec(1, 1, 'implied', '',
                          help='whether A is ahead, left, right or behind the robot'),
    'last_seen': KindSpec(1, 1, 'never', '', help='stamp of the last keyframe showing A'),
    'rel_distance': KindSpec(2, MANY, 'never', '', 'object_rel_distance', True,
                             'which listed object is closest to / farthest from the last'),
    'rel_direction': KindSpec(3, 3, 'never', '', 'object_rel_direction', True,
                              'standing by A facing B, is C left, right or back'),
    'route': KindSpec(3, MANY, 'never', '', 'route_plan', True,
                      'the turns of a route from A facing B past the listed stops'),
    'appearance_order': KindSpec(2, MANY, 'never', '', 'obj_appearance_order', True,
                                 'the order in which the listed objects were first seen'),
}
QTYPE_KINDS = {spec.qtype: kind for kind, spec in KINDS.items() if spec.qtype}
# The kinds a VLM writes programs for (the rest need listed options, which rules read).
WRITABLE_KINDS = tuple(k for k, s in KINDS.items() if not s.options)


class QueryError(GeodeError):
    """A question that cannot be run: ``status`` says why (cannot_parse, unknown_category,
    no_detector, no_pose); ``program`` is what was understood, when anything was."""

    def __init__(self, status: str, message: str, program: Program | None = None,
                 suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.program = program
        self.suggestions = suggestions


@dataclass(frozen=True)
class ObjectArg:
    """One object a program is about: a class of the vocabulary and the words used."""

    label: str
    words: str = field(default='', compare=False)
    plural: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Program:
    """A typed query (see the module docstring)."""

    kind: str
    objects: tuple[ObjectArg, ...] = ()
    reference: str = ''  # '' or 'robot'
    unit: str = ''  # '' = the kind's default (m, m2; cm for VSI-Bench sizes)
    radius_m: float | None = None  # 'near': how far counts as near
    extreme: str = 'closest'  # 'rel_distance': closest or farthest
    dimension: str = ''  # 'size': '' (the longest side) or 'height'
    options: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    source: str = field(default='rules', compare=False)  # rules, vlm or structured

    def key(self) -> tuple:
        """What the program means, for comparing two readings of a question (a distance
        is the same whichever object is named first)."""
        labels = tuple(self.labels)
        if self.kind == 'distance':
            labels = tuple(sorted(labels))
        return (self.kind, labels, self.reference, self.unit, self.radius_m, self.extreme,
                self.dimension)

    @property
    def labels(self) -> list[str]:
        return [o.label for o in self.objects]

    @property
    def spec(self) -> KindSpec:
        return KINDS[self.kind]

    @property
    def qtype(self) -> str:
        """The VSI-Bench type of the same meaning ('' when none: a robot's own kinds)."""
        if self.kind == 'distance' and self.reference == ROBOT:
            return ''
        return self.spec.qtype

    @property
    def text(self) -> str:
        """The canonical text form, e.g. ``distance(robot, door; unit=ft)``."""
        args = [o.label for o in self.objects]
        if self.reference == ROBOT and self.spec.robot == 'optional':
            args.insert(0, ROBOT)
        keys = []
        if self.dimension:
            keys.append(f'dim={self.dimension}')
        if self.unit:
            keys.append(f'unit={self.unit}')
        if self.radius_m is not None:
            keys.append(f'radius={self.radius_m:g}')
        if self.kind == 'rel_distance' and self.extreme != 'closest':
            keys.append(f'extreme={self.extreme}')
        if self.options:
            keys.append(f'options={len(self.options)}')
        sep = '; ' if args and keys else ''
        return f'{self.kind}({", ".join(args)}{sep}{", ".join(keys)})'

    def to_dict(self) -> dict:
        return {'kind': self.kind, 'objects': self.labels,
                'words': [o.words for o in self.objects], 'reference': self.reference,
                'unit': self.unit, 'radius_m': self.radius_m, 'dimension': self.dimension,
                'source': self.source,
                'program': self.text}

    def validate(self) -> Program:
        """Self, or QueryError(cannot_parse) naming what does not fit the kind."""
        spec = KINDS.get(self.kind)
        if spec is None:
            raise QueryError(CANNOT_PARSE, f'unknown query kind {self.kind!r}; known: '
                                           f'{", ".join(KINDS)}', self)
        n = len(self.objects)
        robot = self.reference == ROBOT
        if self.reference not in ('', ROBOT):
            raise QueryError(CANNOT_PARSE, f'reference must be empty or {ROBOT!r}, got '
                                           f'{self.reference!r}', self)
        if robot and spec.robot == 'never':
            raise QueryError(CANNOT_PARSE, f'a {self.kind} query takes no robot reference',
                             self)
        lo, hi = spec.min_objects, spec.max_objects
        if self.kind == 'distance':
            lo = hi = 1 if robot else 2
        if self.kind == 'nearest':  # from the robot, or the first object nearest the second
            lo, hi = (0, 1) if robot else (2, 2)
        if spec.robot == 'implied' and self.kind != 'nearest' and not robot:
            raise QueryError(CANNOT_PARSE, f'a {self.kind} query is relative to the robot '
                                           f'(reference {ROBOT!r})', self)
        if not lo <= n <= hi:
            want = str(lo) if lo == hi else f'{lo} to {hi}'
            raise QueryError(CANNOT_PARSE, f'a {self.kind} query takes {want} object(s), got '
                                           f'{n}', self)
        allowed = (LENGTH_UNITS if spec.units == 'length' else
                   AREA_UNITS if spec.units == 'area' else {})
        if self.unit and self.unit not in allowed:
            raise QueryError(CANNOT_PARSE, f'unit {self.unit!r} does not fit a {self.kind} '
                                           f'query (use one of {", ".join(allowed) or "none"})',
                             self)
        if self.dimension not in ('', 'height') or (self.dimension and self.kind != 'size'):
            raise QueryError(CANNOT_PARSE, f'dimension must be empty or height (size only), '
                                           f'got {self.dimension!r}', self)
        if self.radius_m is not None and not (math.isfinite(self.radius_m)
                                              and self.radius_m > 0):
            raise QueryError(CANNOT_PARSE, f'radius must be a positive distance, got '
                                           f'{self.radius_m}', self)
        return self

    def with_source(self, source: str) -> Program:
        return replace(self, source=source)


def convert_length(metres: float, unit: str) -> float:
    return metres / LENGTH_UNITS[unit or 'm']


def convert_area(square_metres: float, unit: str) -> float:
    return square_metres / AREA_UNITS[unit or 'm2']


# ----------------------------------------------------------------- the text form
_CALL = re.compile(r'^\s*([a-z_]+)\s*\((.*)\)\s*$', re.DOTALL)


def program_pattern(classes: tuple[str, ...]) -> str:
    """A regular expression (for the ``regex`` module, partial matching) of every program
    text a VLM may write over ``classes``: the grammar its decoding is constrained to."""
    names = '|'.join(re.escape(c) for c in sorted(classes, key=len, reverse=True))
    cls = f'(?:{names})'
    length = '|'.join(sorted(LENGTH_UNITS, key=len, reverse=True))
    area = '|'.join(AREA_UNITS)
    lu = f'(?:; unit=(?:{length}))?'
    alts = [f'count\\({cls}\\)', f'where\\({cls}\\)', f'exists\\({cls}\\)', 'list\\(\\)',
            f'distance\\((?:{cls}|robot), {cls}{lu}\\)',
            f'size\\({cls}(?:; dim=height(?:, unit=(?:{length}))?|{lu})\\)',
            f'room_area\\((?:unit=(?:{area}))?\\)',
            f'nearest\\((?:{cls}(?:, {cls})?{lu}|(?:unit=(?:{length}))?)\\)',
            f'near\\({cls}(?:; radius=[0-9](?:\\.[0-9])?)?\\)', f'direction\\({cls}\\)',
            f'last_seen\\({cls}\\)', f'{NONE}\\(\\)']
    return '(?:' + '|'.join(alts) + ')'


def parse_program_text(text: str, resolve) -> Program:
    """The Program written as ``text`` (canonical form); ``resolve(name)`` maps an argument
    to an ObjectArg (the lexicon's). QueryError(cannot_parse) when it is not one."""
    m = _CALL.match(text or '')
    if not m:
        raise QueryError(CANNOT_PARSE, f'not a query program: {text!r}')
    if m.group(1) == NONE:
        raise QueryError(CANNOT_PARSE, 'not a question about the scene')
    kind, inner = m.group(1), m.group(2)
    items = [x.strip() for x in re.split(r'[;,]', inner) if x.strip()]
    args = [x for x in items if '=' not in x]
    keys = [x for x in items if '=' in x]
    reference = ''
    if args and args[0] == ROBOT:
        reference, args = ROBOT, args[1:]
    elif kind == 'direction' or (kind == 'nearest' and len(args) < 2):
        reference = ROBOT
    unit, radius, dimension = '', None, ''
    for item in keys:
        key, _, value = item.partition('=')
        if key.strip() == 'unit':
            unit = value.strip()
        elif key.strip() == 'dim':
            dimension = value.strip()
        elif key.strip() == 'radius':
            try:
                radius = float(value)
            except ValueError:
                raise QueryError(CANNOT_PARSE, f'radius must be a number: {item!r}') from None
        else:
            raise QueryError(CANNOT_PARSE, f'unknown program key {key.strip()!r} in {text!r}')
    objects = tuple(resolve(a) for a in args)
    return Program(kind, objects, reference, unit, radius, dimension=dimension).validate()
