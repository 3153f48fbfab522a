"""Approximate-time synchroniser for N message streams (pure Python, no ROS).

Semantics follow ``message_filters.ApproximateTimeSynchronizer``: each input has
a bounded queue keyed by stamp; when a message arrives, the closest message (in
time) of every other input within ``slop`` seconds is searched for, and a set
whose stamps all lie within ``slop`` of each other is emitted once. Unlike the
Python ``message_filters`` version, messages older than an emitted set are
dropped too, so a live stream never matches stale data out of order.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from geode_ros.errors import GeodeError

_MAX_CANDIDATES = 8  # per input, nearest first: bounds the search to 8^(N-1) sets


class ApproximateTimeSync:
    """Match messages from ``num_inputs`` streams whose stamps differ by at most ``slop``.

    Args:
        num_inputs: number of input streams (>= 2).
        queue_size: messages kept per input; the oldest are dropped beyond this.
        slop: largest allowed stamp spread (seconds) inside one emitted set.
        callback: called as ``callback(*msgs)`` (one message per input, input order),
            outside the internal lock, from the thread that called ``add``.
    """

    def __init__(
        self,
        num_inputs: int,
        queue_size: int,
        slop: float,
        callback: Callable[..., Any] | None = None,
    ) -> None:
        if num_inputs < 2:
            raise GeodeError(f'sync needs at least 2 inputs, got {num_inputs}')
        if queue_size < 1:
            raise GeodeError(f'sync queue_size must be >= 1, got {queue_size}')
        if not slop >= 0.0:
            raise GeodeError(f'sync slop must be >= 0 seconds, got {slop}')
        self.num_inputs = int(num_inputs)
        self.queue_size = int(queue_size)
        self.slop = float(slop)
        self._callbacks: list[Callable[..., Any]] = [callback] if callback else []
        self._queues: list[dict[float, Any]] = [{} for _ in range(self.num_inputs)]
        self._lock = threading.Lock()
        self.matched = 0
        self.dropped = 0
        self.dropped_by_input = [0] * self.num_inputs  # messages that never made a set

    def register_callback(self, callback: Callable[..., Any]) -> None:
        """Add another callback for matched sets."""
        self._callbacks.append(callback)

    def reset(self) -> None:
        """Forget every queued message."""
        with self._lock:
            for q in self._queues:
                q.clear()

    def queued(self) -> list[int]:
        """Number of messages waiting per input."""
        with self._lock:
            return [len(q) for q in self._queues]

    def add(self, index: int, stamp: float, msg: Any) -> tuple[Any, ...] | None:
        """Queue ``msg`` (stamp in seconds) on input ``index``; return the matched set if any."""
        if not 0 <= index < self.num_inputs:
            raise GeodeError(f'sync input index {index} out of range 0..{self.num_inputs - 1}')
        stamp = float(stamp)
        with self._lock:
            queue = self._queues[index]
            queue[stamp] = msg
            while len(queue) > self.queue_size:
                del queue[min(queue)]
                self.dropped += 1
                self.dropped_by_input[index] += 1
            if stamp not in queue:  # it was the oldest and fell out at once
                return None
            matched = self._match(index, stamp)
        if matched is not None:
            for cb in self._callbacks:
                cb(*matched)
        return matched

    def _match(self, index: int, stamp: float) -> tuple[Any, ...] | None:
        """Find the tightest set containing (index, stamp); pop it and everything older."""
        candidates: list[list[float]] = []
        for i, queue in enumerate(self._queues):
            if i == index:
                candidates.append([stamp])
                continue
            near = sorted((s for s in queue if abs(s - stamp) <= self.slop),
                          key=lambda s: abs(s - stamp))
            if not near:
                return None
            candidates.append(near[:_MAX_CANDIDATES])
        best: tuple[float, ...] | None = None
        best_spread = float('inf')
        for combo in itertools.product(*candidates):
            spread = max(combo) - min(combo)
            if spread <= self.slop and spread < best_spread:
                best, best_spread = combo, spread
        if best is None:
            return None
        msgs = tuple(queue[s] for queue, s in zip(self._queues, best))
        for i, (queue, s) in enumerate(zip(self._queues, best)):
            for old in [t for t in queue if t <= s]:
                del queue[old]
                if old != s:
                    self.dropped += 1
                    self.dropped_by_input[i] += 1
        self.matched += 1
        return msgs
