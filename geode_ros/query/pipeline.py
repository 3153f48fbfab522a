"""Question (or a planner's fields) -> Program -> Result -> Answer: the one path.

``understand`` reads a question once: the rules first, then, when they cannot, a VLM
program writer if the reasoner has one; ``structured`` builds the same Program from a
planner's fields (kind, object names, reference, unit) with no English at all;
``to_answer`` turns an executed Result into the engine's ``Answer`` (text by the one
writer, values with units, the objects used as boxes, the status and the program).
"""

from __future__ import annotations

from collections.abc import Callable

from geode_ros.query.execute import Result
from geode_ros.query.lexicon import Lexicon
from geode_ros.query.parse import parse_rules
from geode_ros.query.program import (
    CANNOT_PARSE,
    KINDS,
    ROBOT,
    WRITABLE_KINDS,
    Program,
    QueryError,
)
from geode_ros.query.render import render
from geode_ros.scene.types import Answer

ProgramWriter = Callable[[str], Program | None]
EXAMPLES = ('"where is the mug?", "how many chairs are there?", "how far is the sofa from the '
            'tv?", "how big is this room?", "what is in the room?", "is there a tv?", '
            '"how far am I from the door?", "what is near the bed?", "when did you last see '
            'the cup?"')


def understand(question: str | Program, lexicon: Lexicon,
               write_program: ProgramWriter | None = None, use_rules: bool = True) -> Program:
    """The Program a question means; QueryError (cannot_parse / unknown_category).
    ``use_rules=False`` leaves it to ``write_program`` alone (to measure the VLM)."""
    if isinstance(question, Program):
        return question.validate()
    program = parse_rules(question, lexicon) if use_rules else None
    if program is None and write_program is not None:
        program = write_program(question)
    if program is None:
        raise QueryError(CANNOT_PARSE, f'cannot parse the question {question!r}: ask e.g. '
                                       f'{EXAMPLES}, or send kind and objects (one of '
                                       f'{", ".join(WRITABLE_KINDS)})')
    return program.validate()


def structured(kind: str, objects: list[str] | tuple[str, ...], reference: str, unit: str,
               lexicon: Lexicon) -> Program:
    """The Program of a planner's request fields (names go through the lexicon, so
    'couch' or 'TV' work; an unknown name is refused with the closest known ones)."""
    kind = (kind or '').strip().lower()
    if kind not in KINDS or KINDS[kind].options:
        raise QueryError(CANNOT_PARSE, f'unknown query kind {kind!r}; one of '
                                       f'{", ".join(WRITABLE_KINDS)}')
    reference = (reference or '').strip().lower()
    if reference in ('object', 'objects'):
        reference = ''
    if kind in ('direction',) or (kind == 'nearest' and len(objects) < 2):
        reference = ROBOT
    args = tuple(lexicon.resolve(o) for o in objects if o.strip())
    return Program(kind, args, reference, (unit or '').strip().lower(),
                   source='structured').validate()


def to_answer(result: Result, timings: dict[str, float] | None = None) -> Answer:
    """The engine's Answer of an executed Result (text written in the memory's frame)."""
    return Answer(render(result), list(result.values), [o.as_box3d() for o in result.used],
                  result.frame_id, result.stamp, dict(timings or {}),
                  result.program.qtype or result.program.kind, status=result.status,
                  program=result.program.to_dict(), units=list(result.units), result=result)
