"""The one answer writer: a Result becomes the sentence a person reads.

Numbers come from the result's values (never re-read from text). Coordinates are
written in the frame the caller asks for: ``render(result, T_target_src, frame)``
re-expresses every box of the answer with that transform, so the text and the reply's
boxes always agree. Answers that rest on a detection scored below the confidence
threshold say so.
"""

from __future__ import annotations

import numpy as np

from geode_ros.query.execute import Result
from geode_ros.query.memory import MemoryObject
from geode_ros.query.program import AMBIGUOUS, ESTIMATED, NOT_FOUND, ROBOT

UNIT_WORDS = {'m': 'm', 'cm': 'cm', 'mm': 'mm', 'ft': 'ft', 'in': 'in',
              'm2': 'square meters', 'ft2': 'square feet'}
DECIMALS = {'m': 2, 'cm': 0, 'mm': 0, 'ft': 1, 'in': 0, 'm2': 1, 'ft2': 0}


def quantity(value: float, unit: str) -> str:
    """'2.35 m', '200 cm', '53.1 square meters'."""
    return f'{value:.{DECIMALS.get(unit, 2)}f} {UNIT_WORDS.get(unit, unit)}'


def plural(label: str, n: int) -> str:
    from geode_ros.query.lexicon import plural as pl

    return label if n == 1 else pl(label)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ', '.join(items[:-1]) + ' and ' + items[-1]


class _Writer:
    def __init__(self, result: Result, T: np.ndarray | None, frame: str) -> None:
        self.r, self.T, self.frame = result, T, frame or result.frame_id

    def at(self, o: MemoryObject) -> str:
        """'(1.20, 3.40, 0.45) in map' for an object's centre, in the target frame."""
        c = o.center
        if self.T is not None:
            c = self.T[:3, :3] @ c + self.T[:3, 3]
        return f'({c[0]:.2f}, {c[1]:.2f}, {c[2]:.2f}) in {self.frame}'

    def box(self, o: MemoryObject) -> str:
        s = o.size
        return f'{self.at(o)}, {s[0]:.2f} x {s[1]:.2f} x {s[2]:.2f} m'

    def missing(self, capital: bool = True) -> str:
        """'No sofa and no tv found in this scene'."""
        names = self.r.detail.get('missing') or self.r.program.labels or ['object']
        text = _join([f'no {n}' for n in names]) + ' found in this scene'
        return text[0].upper() + text[1:] if capital else text

    def value(self, i: int = 0) -> str:
        return quantity(self.r.values[i], self.r.units[i])


def _count(w: _Writer) -> str:
    n, label = int(w.r.values[0]), w.r.program.labels[0]
    return f'I see {n} {plural(label, n)}.' if n else f'I see no {plural(label, 2)}.'


def _exists(w: _Writer) -> str:
    label = w.r.program.labels[0]
    n = len(w.r.used)
    return f'Yes, I see {n} {plural(label, n)}.' if n else f'No, I have not seen any {label}.'


def _list(w: _Writer) -> str:
    labels = w.r.detail.get('labels', [])
    if not labels:
        return 'I have not detected any objects yet.'
    return 'I see ' + _join([f'{int(n)} {plural(lb, int(n))}'
                             for lb, n in zip(labels, w.r.values)]) + '.'


def _where(w: _Writer) -> str:
    used, label = w.r.used, w.r.program.labels[0]
    if len(used) > 1:
        return (f'I see {len(used)} {plural(label, 2)}: '
                + _join([f'at {w.box(o)}' for o in used]) + '.')
    cands = w.r.detail.get('candidates', {}).get(label)
    if cands:
        return f'I see {cands} {plural(label, 2)}; the one nearest you is at {w.box(used[0])}.'
    return f'The {label} is at {w.box(used[0])}.'


def _distance(w: _Writer) -> str:
    if w.r.program.reference == ROBOT:
        return f'The {w.r.used[0].label} is {w.value()} from you.'
    a, b = w.r.used
    return f'The {a.label} is {w.value()} from the {b.label}.'


def _size(w: _Writer) -> str:
    o = w.r.used[0]
    if w.r.program.dimension == 'height':
        return f'The {o.label} is {w.value()} tall.'
    dims = ' x '.join(f'{d:.2f}' for d in w.r.detail['dims_m'])
    return f'The {o.label} measures {dims} m; its longest side is {w.value()}.'


def _room_area(w: _Writer) -> str:
    return f'The room is about {w.value()}.'


def _nearest(w: _Writer) -> str:
    o = w.r.used[0]
    if w.r.program.reference == ROBOT:
        what = f'{o.label}' if w.r.program.objects else f'object ({o.label})'
        return f'The nearest {what} is {w.value()} from you, at {w.at(o)}.'
    return f'The {o.label} nearest the {w.r.used[1].label} is {w.value()} from it, at {w.at(o)}.'


def _near(w: _Writer) -> str:
    anchor, near = w.r.used[0], w.r.used[1:]
    radius = quantity(w.r.detail['radius_m'], 'm')
    if not near:
        return f'Nothing is within {radius} of the {anchor.label}.'
    items = [f'{o.label} ({quantity(v, u)})' for o, v, u in zip(near, w.r.values, w.r.units)]
    return f'Within {radius} of the {anchor.label}: {_join(items)}.'


def _direction(w: _Writer) -> str:
    o, side = w.r.used[0], w.r.detail['side']
    where = {'ahead': 'ahead of you', 'behind': 'behind you'}.get(side, f'to your {side}')
    return (f'The {o.label} is {where} ({abs(w.r.values[0]):.0f} deg '
            f'{"left" if w.r.values[0] > 0 else "right"} of your heading, '
            f'{quantity(w.r.values[1], "m")} away).')


def _last_seen(w: _Writer) -> str:
    o = w.r.used[0]
    if not w.r.values:
        return f'The {o.label} is in my memory, but none of the keyframes I keep shows it.'
    return (f'I last saw the {o.label} at t = {w.r.values[0]:.2f} s '
            f'({w.r.detail.get("age_s", 0.0):.1f} s before the latest frame).')


def _choice(w: _Writer) -> str:
    return w.r.detail.get('choice') or w.r.detail.get('computed', '')


WRITERS = {
    'count': _count, 'exists': _exists, 'list': _list, 'where': _where,
    'distance': _distance, 'size': _size, 'room_area': _room_area, 'nearest': _nearest,
    'near': _near, 'direction': _direction, 'last_seen': _last_seen,
    'rel_distance': _choice, 'rel_direction': _choice, 'route': _choice,
    'appearance_order': _choice,
}


def render(result: Result, T_target_src: np.ndarray | None = None, target_frame: str = ''
           ) -> str:
    """The answer sentence of ``result``; coordinates in ``target_frame`` via
    ``T_target_src`` (target <- the memory's frame) when given. A program the VLM wrote
    (the rules could not read the question) is named, so a wrong reading shows."""
    text = _sentence(result, T_target_src, target_frame)
    if result.program.source == 'vlm':
        text += f' (I read the question as {result.program.text})'
    return text


def _sentence(result: Result, T_target_src: np.ndarray | None, target_frame: str) -> str:
    T = None if T_target_src is None else np.asarray(T_target_src, np.float64)
    w = _Writer(result, T, target_frame)
    kind = result.program.kind
    if result.status == ESTIMATED:
        text = result.detail.get('estimate_text') or (
            quantity(result.values[0], result.units[0]) if result.values else '')
        return f'{text} (estimated: {w.missing(capital=False)})'
    if result.status == NOT_FOUND and kind not in ('count', 'exists', 'list'):
        return w.missing() + '.'
    text = WRITERS[kind](w)
    if result.status == AMBIGUOUS and kind not in ('where',):
        many = result.detail.get('candidates', {})
        text += ' (' + _join([f'{n} {plural(lb, n)} seen' for lb, n in many.items()]) + \
            '; I used the one nearest you)'
    if result.low_confidence:
        scores = result.detail.get('uncertain_scores', [])
        text += f' (uncertain: detection score {", ".join(f"{s:.2f}" for s in scores)})'
    return text
