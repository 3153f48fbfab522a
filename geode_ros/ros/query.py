"""The SpatialQuery service contract as pure functions (no node, no spinning).

- ``check_question``: an empty question, or one over ``max_chars``, is refused with a
  short message that quotes at most ``QUOTE_CHARS`` characters of it.
- ``text_in_frame``: box coordinates written in the answer text follow ``target_frame``
  like the boxes themselves; values (distances, sizes, areas, counts) are the same in
  every frame and stay as they are.
"""

from __future__ import annotations

import math
import re

import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.scene.types import Box3D

QUOTE_CHARS = 80
EMPTY_QUESTION = 'question is empty: ask something like "how big is this room?"'

_NUM = r'[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?'
# What the model writes for a box (geode_ros.model.drh.render_box).
_BOX_TEXT = re.compile(
    rf'center \(\s*{_NUM}\s*,\s*{_NUM}\s*,\s*{_NUM}\s*\) m, size \(\s*({_NUM})\s*,\s*({_NUM})'
    rf'\s*,\s*({_NUM})\s*\) m, yaw {_NUM} deg')


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


def box_yaw_in_frame(box: Box3D, T_target_src: np.ndarray) -> float:
    """Heading (rad, about target z) of the box's x axis once expressed in the target frame."""
    c, s = math.cos(box.yaw), math.sin(box.yaw)
    x_axis = np.asarray(T_target_src, np.float64)[:3, :3] @ np.array([c, s, 0.0])
    return math.atan2(x_axis[1], x_axis[0])


def render_box_text(center: np.ndarray, size: tuple[str, str, str], yaw: float) -> str:
    """The model's box wording, for a centre and yaw in another frame (size unchanged)."""
    x, y, z = (float(v) for v in center)
    return (f'center ({x:.2f}, {y:.2f}, {z:.2f}) m, size ({size[0]}, {size[1]}, {size[2]}) m, '
            f'yaw {math.degrees(yaw):.0f} deg')


def text_in_frame(text: str, boxes: list[Box3D], T_target_src: np.ndarray | None,
                  target_frame: str) -> str:
    """Answer text with each written box re-expressed in ``target_frame``.

    The k-th box written in the text is the k-th of ``boxes``; each rewritten one is
    followed by ``(frame <target_frame>)``. Text without a written box, or with
    ``T_target_src`` None (already in the target frame), is returned as it is.
    """
    if T_target_src is None or not boxes:
        return text
    T = np.asarray(T_target_src, np.float64)
    found = iter(boxes)

    def replace(match: re.Match) -> str:
        box = next(found, None)
        if box is None:
            return match.group(0)
        centre = T[:3, :3] @ np.asarray(box.center, np.float64).reshape(3) + T[:3, 3]
        yaw = box_yaw_in_frame(box, T)
        return f'{render_box_text(centre, match.groups(), yaw)} (frame {target_frame})'

    return _BOX_TEXT.sub(replace, text)
