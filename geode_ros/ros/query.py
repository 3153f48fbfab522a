"""The SpatialQuery service contract as pure functions (no node, no spinning).

- ``check_question``: an over-long question is refused with a short message that quotes
  at most ``QUOTE_CHARS`` characters of it.
- ``request_program``: the request's question, or (when it is empty) its structured
  fields as a query Program, so planners need no English.
- ``fill_query_response`` / ``fail_query_response``: status, how the question was
  understood, values with units, the objects used, and the answer written in
  ``target_frame`` by the query layer's one writer (no answer text is parsed back).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from std_msgs.msg import Header

from geode_ros.errors import GeodeError
from geode_ros.query.lexicon import SYNONYMS, Lexicon
from geode_ros.query.pipeline import structured
from geode_ros.query.program import Program, QueryError
from geode_ros.query.render import render
from geode_ros.ros.conversions import box_to_msg, make_header
from geode_ros.scene.types import Answer

QUOTE_CHARS = 80
EMPTY_QUESTION = ('question is empty: ask something like "how big is this room?", or fill '
                  'kind and objects (e.g. kind "where", objects ["mug"])')


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` in double quotes, cut to ``limit`` characters with an ellipsis."""
    text = ' '.join(text.split())
    if len(text) > limit:
        text = text[:limit - 1].rstrip() + '…'
    return f'"{text}"'


def check_question(question: str, max_chars: int) -> str:
    """The stripped question; GeodeError (short, quoting little) when empty or too long."""
    text = question.strip() if isinstance(question, str) else ''
    if not text:
        raise GeodeError(EMPTY_QUESTION)
    if len(text) > max_chars:
        raise GeodeError(f'question too long: {len(text)} characters, the limit is {max_chars} '
                         f'(parameter max_question_chars); it starts {quote(text)}')
    return text


def shorten_echoes(message: str, question: str) -> str:
    """Replace a long question echoed inside an error ``message`` by a short quote."""
    q = question.strip()
    if len(q) <= QUOTE_CHARS or q not in message:
        return message
    return message.replace(repr(q), quote(q)).replace(q, quote(q)[1:-1])


def request_program(request: Any, reasoner: Any, max_chars: int) -> str | Program:
    """What to ask the engine: the request's question, or its structured fields as a
    Program (names read by the reasoner's lexicon); GeodeError when there is neither."""
    if request.question.strip() or not request.kind.strip():
        return check_question(request.question, max_chars)
    lexicon = getattr(reasoner, 'lexicon', None) or Lexicon(tuple(SYNONYMS))
    return structured(request.kind, list(request.objects), request.reference, request.unit,
                      lexicon)


def _understood(response: Any, program: dict) -> None:
    response.program = str(program.get('program', ''))
    response.kind = str(program.get('kind', ''))
    response.objects = [str(o) for o in program.get('objects', [])]
    response.reference = str(program.get('reference', ''))


def fill_query_response(response: Any, answer: Answer, target_frame: str = '',
                        T_target_src: np.ndarray | None = None) -> Any:
    """Fill a ``SpatialQuery.Response`` from ``answer`` (success=True) and return it.

    Boxes and the coordinates written in the answer are expressed in ``target_frame``
    via ``T_target_src`` (target <- answer frame) when given; the header carries the
    frame and stamp of the scene state used.
    """
    frame = target_frame or answer.frame_id
    response.success, response.status, response.message = True, answer.status, ''
    response.answer = (render(answer.result, T_target_src, frame)
                       if answer.result is not None else str(answer.text))
    _understood(response, answer.program)
    response.values = [float(v) for v in answer.values]
    response.units = [str(u) for u in answer.units]
    response.boxes = [box_to_msg(b, T_target_src) for b in answer.boxes]
    response.header = make_header(frame, answer.stamp)
    return response


def fail_query_response(response: Any, message: str, frame_id: str = '',
                        error: Exception | None = None) -> Any:
    """Fill a ``SpatialQuery.Response`` with success=False, a status and a planner-readable
    message (and what was understood of the question, when anything was)."""
    response.success = False
    response.status = error.status if isinstance(error, QueryError) else 'error'
    response.message = str(message)
    response.answer = ''
    program = error.program if isinstance(error, QueryError) else None
    _understood(response, program.to_dict() if program is not None else {})
    response.values, response.units, response.boxes = [], [], []
    response.header = Header(frame_id=frame_id)
    return response
