"""Answers computed from the model's own detections: select the objects a question names,
then measure them.

The DRM's object head detects and boxes what is in the cloud; this module picks the
detections a question is about (by the class names of the model's vocabulary, in the
order the question names them) and applies the same geometry the question asks for:
closest-point distances between boxes, the longest box side, the footprint area, turn
angles in the floor plane, first keyframe of appearance. Nothing here sees ground truth.

``reason`` returns None when the question names an object the model did not detect (the
caller then uses the LLM's reading); grounding is the exception: an object that is not
detected gets the answer that it was not found, with no box.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from geode_ros.data.qa import grounding_label
from geode_ros.model.drh import render_box, render_value
from geode_ros.model.objects import Detection
from geode_ros.model.prompt import split_options
from geode_ros.scene import boxgeom

BACK_DEG = 135.0  # "to my back" when the turn is at least this (VSI-Bench's wording)


@dataclass
class ObjectAnswer:
    """An answer from detections: text, values, boxes, and which detections it used."""

    text: str
    values: list[float] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)
    used: list[Detection] = field(default_factory=list)


def mentions(text: str, classes: tuple[str, ...]) -> list[str]:
    """Class names in ``text`` in the order they appear (longest names first, so 'trash
    can' is not read as 'can'; plurals like 'chairs' / 'chair(s)' count)."""
    found: list[tuple[int, str]] = []
    taken = np.zeros(len(text) + 1, bool)
    low = text.lower()
    for name in sorted(classes, key=len, reverse=True):
        pat = re.compile(r'\b' + re.escape(name.lower()) + r'(?:\(s\)|es|s)?\b')
        for m in pat.finditer(low):
            if not taken[m.start():m.end()].any():
                taken[m.start():m.end()] = True
                found.append((m.start(), name))
    return [name for _, name in sorted(found)]


def _best(dets: list[Detection], label: str) -> Detection | None:
    same = [d for d in dets if d.label == label]
    return max(same, key=lambda d: d.score) if same else None


def _box(d: Detection) -> list[float]:
    return [float(v) for v in d.box]


def _distance(a: Detection, b: Detection) -> float:
    return float(boxgeom.box_distance(a.as_box3d(), b.as_box3d())[0])


def _turn_deg(fwd: np.ndarray, v: np.ndarray) -> float:
    """Signed angle (deg) from ``fwd`` to ``v`` in the floor plane; positive = left."""
    return math.degrees(math.atan2(fwd[0] * v[1] - fwd[1] * v[0], float(fwd @ v)))


def _option(options: list[tuple[str, str]], text: str) -> str | None:
    for letter, opt in options:
        if opt.strip().lower() == text:
            return f'{letter}. {opt}'
    return None


def _closest_option(options: list[tuple[str, str]], want: list[str]) -> str:
    """The option whose comma-separated items agree with ``want`` in most positions."""
    def agree(opt: str) -> int:
        items = [x.strip().lower() for x in opt.split(',')]
        return sum(a == b for a, b in zip(items, want))
    letter, opt = max(options, key=lambda lo: agree(lo[1]))
    return f'{letter}. {opt}'


def reason(question: str, qtype: str, dets: list[Detection], classes: tuple[str, ...],
           room_area: float) -> ObjectAnswer | None:
    """The answer of ``question`` from ``dets``; None when a named object is missing."""
    body = question.strip().splitlines()[0]
    named = mentions(body, classes)
    options = split_options(question)
    if qtype == 'grounding_3d':
        label = grounding_label(body)
        d = _best(dets, label) if label in classes else None
        if d is None:
            why = '' if label in classes else ' (not a category this model knows)'
            return ObjectAnswer(f'No {label or "such object"} found in this scene{why}.')
        return ObjectAnswer(render_box(_box(d)), boxes=[_box(d)], used=[d])
    if qtype == 'room_size_estimation':
        if not math.isfinite(room_area) or room_area <= 0:
            return None
        return ObjectAnswer(render_value(qtype, room_area), [room_area])
    if qtype == 'object_count':
        if not named:
            return None
        used = [d for d in dets if d.label == named[0]]
        if not used:
            return None
        return ObjectAnswer(render_value(qtype, len(used)), [float(len(used))], used=used)
    picked = [_best(dets, n) for n in named]
    if not named or any(d is None for d in picked):
        return None
    if qtype == 'object_size_estimation':
        cm = 100.0 * float(np.max(picked[0].box[3:6]))
        return ObjectAnswer(render_value(qtype, cm), [cm], used=picked[:1])
    if qtype == 'object_abs_distance' and len(picked) >= 2:
        dist = _distance(picked[0], picked[1])
        return ObjectAnswer(render_value(qtype, dist), [dist], used=picked[:2])
    if not options:
        return None
    if qtype == 'object_rel_distance':
        return _rel_distance(body, named, dets, options)
    if qtype == 'object_rel_direction' and len(picked) >= 3:
        a, b, c = (d.box[:2] for d in picked[:3])
        ang = _turn_deg(b - a, c - a)
        side = 'back' if abs(ang) >= BACK_DEG else ('left' if ang > 0 else 'right')
        text = _option(options, side)
        return ObjectAnswer(text, used=picked[:3]) if text else None
    if qtype == 'route_plan':
        return _route(body, dets, classes, options)
    if qtype == 'obj_appearance_order':
        listed = mentions(body, classes)
        firsts = {n: min(d.first_seen for d in dets if d.label == n) for n in listed}
        if not all(math.isfinite(v) for v in firsts.values()):
            return None
        order = sorted(listed, key=lambda n: (firsts[n], listed.index(n)))
        return ObjectAnswer(_closest_option(options, order), used=picked)
    return None


def _rel_distance(body: str, named: list[str], dets: list[Detection],
                  options: list[tuple[str, str]]) -> ObjectAnswer | None:
    """'which of these objects (a, b, c, d) is the closest to the e?'"""
    anchor_name = named[-1]
    anchor = _best(dets, anchor_name)
    best, best_d = None, math.inf
    for letter, opt in options:
        cands = [d for d in dets if d.label == opt.strip().lower()]
        for d in cands:
            dist = _distance(anchor, d)
            if dist < best_d:
                best, best_d = (letter, opt, d), dist
    if best is None:
        return None
    letter, opt, d = best
    return ObjectAnswer(f'{letter}. {opt}', used=[anchor, d])


_ROUTE = re.compile(r'beginning at the (.+?) facing the (.+?)\.', re.IGNORECASE)
_STOP = re.compile(r'go forward until the (.+?)\.', re.IGNORECASE)


def _route(body: str, dets: list[Detection], classes: tuple[str, ...],
           options: list[tuple[str, str]]) -> ObjectAnswer | None:
    """Turns between the named stops, matched to the listed turn sequences."""
    m = _ROUTE.search(body)
    if not m:
        return None
    names = [m.group(1), m.group(2)] + _STOP.findall(body)
    names = [n.strip().lower() for n in names]
    if not all(n in classes for n in names):
        return None
    stops = [_best(dets, n) for n in names]
    if any(d is None for d in stops):
        return None
    pos = stops[0].box[:2]
    heading = stops[1].box[:2] - pos
    turns = []
    for stop in stops[2:]:
        leg = stop.box[:2] - pos
        ang = _turn_deg(heading, leg)
        turns.append('turn back' if abs(ang) >= BACK_DEG else
                     ('turn left' if ang > 0 else 'turn right'))
        pos, heading = stop.box[:2], leg
    return ObjectAnswer(_closest_option(options, turns), used=stops)
