"""Executors that survive entities being destroyed by another thread while they wait.

The node destroys and re-creates sensor subscriptions while spinning (QoS re-matching,
lifecycle deactivate, moving the pose topic). rclpy builds each wait set in Python:
it marks every waitable in use, then adds it. A subscription destroyed by another
thread between those two steps leaves its event handler refusing new uses, and
``add_to_wait_set`` raises ``InvalidHandle`` out of ``spin()`` (ros2/rclpy#1142,
#1206; Jazzy's rclpy 7.1 has it). The spin thread then dies and the node stops
answering. The destroyed entity is already gone from the node's lists, so building
the wait set again is the fix; an event handler destroyed after it was ready is
skipped the way rclpy already skips a destroyed subscription or timer.
"""

from __future__ import annotations

from typing import Any

from rclpy._rclpy_pybind11 import InvalidHandle
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

# Consecutive rebuilds before the error is taken as real (a destroyed context, not a race).
MAX_WAIT_SET_REBUILDS = 100


class _RebuildOnDestroyed:
    """Mix-in: rebuild the wait set when an entity was destroyed while it was built."""

    def wait_for_ready_callbacks(self, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(MAX_WAIT_SET_REBUILDS + 1):
            try:
                return super().wait_for_ready_callbacks(*args, **kwargs)  # type: ignore[misc]
            except InvalidHandle:
                if attempt == MAX_WAIT_SET_REBUILDS or not self._context.ok():  # type: ignore[attr-defined]
                    raise
                self._cb_iter = None  # the failed generator is finished; start a fresh one
        raise AssertionError('unreachable')

    def _take_waitable(self, waitable: Any) -> Any:
        # An event handler destroyed after it was ready has nothing left to take;
        # returning None lets the handler skip it and release its callback group.
        try:
            return super()._take_waitable(waitable)  # type: ignore[misc]
        except InvalidHandle:
            return None


class NodeExecutor(_RebuildOnDestroyed, MultiThreadedExecutor):
    """The node's multi-threaded executor, safe against concurrent destruction."""


class SingleNodeExecutor(_RebuildOnDestroyed, SingleThreadedExecutor):
    """A single-threaded executor, safe against destruction from other threads."""
