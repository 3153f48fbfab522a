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
_OPTION_LINE = re.compile(r'^\s*([A-Z])[.)]\s+(.+?)\s*$')
_ROUTE_START = re.compile(r'beginning at the (.+?) facing the (.+?)\.', re.IGNORECASE)
_ROUTE_STOP = re.compile(r'go forward until the (.+?)\.', re.IGNORECASE)


def split_options(question: str) -> list[tuple[str, str]]:
    """The (letter, text) options listed on the question's trailing lines, in order;
    [] when none are listed (or their letters do not run A, B, C, ...)."""
    out: list[tuple[str, str]] = []
    for line in reversed(question.strip().splitlines()[1:]):
        m = _OPTION_LINE.match(line)
        if not m:
            break
        out.append((m.group(1), m.group(2)))
    out.reverse()
    letters = [chr(ord('A') + i) for i in range(len(out))]
    return out if [le for le, _ in out] == letters else []



def match_template(question: str, s: str, words: list[str], lexicon: Lexicon
                   ) -> Program | None:
    """The program of a VSI-Bench multiple-choice question; None for any other wording.
    ``s`` / ``words``: the first line normalised / as corrected tokens."""
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


def vsi_question(program: Program) -> str:
    """The program asked in VSI-Bench's own words (what a model trained on the benchmark's
    templates reads best), with its listed options on their own lines; '' for a kind the
    benchmark does not have."""
    n = program.labels
    route_note = ("(Note: for each [please fill in], choose either 'turn back,' 'turn left,' "
                  "or 'turn right.')")
    text = {
        'count': lambda: f'How many {n[0]}(s) are in this room?',
        'distance': lambda: ('Measuring from the closest point of each object, what is the '
                             f'direct distance between the {n[0]} and the {n[1]} (in meters)?'),
        'size': lambda: ('What is the length of the longest dimension (length, width, or '
                         f'height) of the {n[0]}, measured in centimeters?'),
        'room_area': lambda: ('What is the size of this room (in square meters)? If multiple '
                              'rooms are shown, estimate the size of the combined space.'),
        'where': lambda: f'Where is the {n[0]}? Give its 3D bounding box.',
        'rel_distance': lambda: ('Measuring from the closest point of each object, which of '
                                 f'these objects ({", ".join(n[:-1])}) is the '
                                 f'{program.extreme} to the {n[-1]}?'),
        'rel_direction': lambda: (f'If I am standing by the {n[0]} and facing the {n[1]}, is '
                                  f'the {n[2]} to my left, right, or back? An object is to my '
                                  'back if I would have to turn at least 135 degrees in order '
                                  'to face it.'),
        'route': lambda: (f'You are a robot beginning at the {n[0]} facing the {n[1]}. You '
                          f'want to navigate to the {n[-1]}. You will perform the following '
                          f'actions {route_note}: ' + ' '.join(
                              f'{2 * i + 1}. [please fill in] {2 * i + 2}. Go forward until '
                              f'the {stop}.' for i, stop in enumerate(n[2:]))
                          + ' You have reached the final destination.'),
        'appearance_order': lambda: ('What will be the first-time appearance order of the '
                                     f'following categories in the video: {", ".join(n)}?'),
    }.get(program.kind)
    if text is None or (program.kind == 'distance' and program.reference):
        return ''
    options = ''.join(f'\n{le}. {t}' for le, t in program.options)
    return text() + options
