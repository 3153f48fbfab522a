"""VSI-Bench's multiple-choice templates as programs.

The benchmark's numeric templates (counts, distances, sizes, room size, grounding) are
ordinary questions the everyday rules read. Its four multiple-choice types have fixed
wordings with objects in set places and options listed on their own lines; these read
them. Without listed options the same programs still run (a robot may ask "standing by
the sofa facing the tv, is the door to my left?"): the answer is then the computed
side, turns or order.
"""

from __future__ import annotations

import re

from geode_ros.query.lexicon import Lexicon
from geode_ros.query.program import Program

REL_DISTANCE = re.compile(r'\bwhich of (these|the following) (objects|things|items)?\b.*'
                          r'\b(closest|nearest|farthest|furthest)\b')
REL_DIRECTION = re.compile(r'\bstanding (by|at|next to)\b.+\bfacing\b.+\b(left|right|back)\b')
ROUTE = re.compile(r'\b(route|navigate|walk|robot)\b.+\b(fill in|turn|go forward)\b')
APPEARANCE = re.compile(r'\b(appearance order|order of (first )?appearance|first[- ]time '
                        r'appearance|appear first|first appear)\b')
_ROUTE_START = re.compile(r'beginning at the (.+?) facing the (.+?)\.', re.IGNORECASE)
_ROUTE_STOP = re.compile(r'go forward until the (.+?)\.', re.IGNORECASE)


def match_template(question: str, s: str, words: list[str], lexicon: Lexicon
                   ) -> Program | None:
    """The program of a VSI-Bench multiple-choice question; None for any other wording.
    ``s`` / ``words``: the first line normalised / as corrected tokens."""
    from geode_ros.query.parse import split_options

    options = tuple(split_options(question))
    named = tuple(m.arg for m in lexicon.find(words))
    if REL_DISTANCE.search(s):
        extreme = 'farthest' if re.search(r'\b(farthest|furthest)\b', s) else 'closest'
        if len(named) < 2:
            return None
        return Program('rel_distance', named, extreme=extreme, options=options).validate()
    if REL_DIRECTION.search(s):
        return (Program('rel_direction', named[:3], options=options).validate()
                if len(named) >= 3 else None)
    if ROUTE.search(s) and _ROUTE_START.search(question):
        start = _ROUTE_START.search(question)
        names = [start.group(1), start.group(2)] + _ROUTE_STOP.findall(question)
        stops = tuple(lexicon.resolve(n) for n in names)
        return Program('route', stops, options=options).validate()
    if APPEARANCE.search(s):
        return (Program('appearance_order', named, options=options).validate()
                if len(named) >= 2 else None)
    return None
