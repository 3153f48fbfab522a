"""Frame accounting and the ingest thread of ``geode_node`` (no rclpy here).

Sensor callbacks only queue what they received; one ``IngestWorker`` thread decodes
and fuses it. Every frame set handed to the worker ends in exactly one of:
``fused`` (into the voxel map; ``keyframes`` counts those that also became keyframes)
or ``skipped[reason]``. Reasons are open-ended strings (a ``reason`` attribute on a
raised error is used as is), each with a throttled warning unless it is deliberate.

Bounds: at most ``queue`` sets wait (for their pose, or for the worker); beyond that
the oldest is skipped (``pose_wait_overflow`` or ``ingest_backlog``). A set waits for
its pose at most ``pose_wait_s``. While more than half the queue is waiting the worker
fuses keyframes only (``fuse_backlog``): it falls behind evenly, never silently.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from geode_ros.errors import GeodeError, InputRejected

# Skips that are a setting, not a problem: counted, never warned about.
DELIBERATE = frozenset({'not_keyframe'})


class SkipFrame(GeodeError):
    """A frame set that is not fused, with a short machine-readable ``reason``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class FrameCounters:
    """Thread-safe counters plus a per-reason throttled warning."""

    def __init__(self, warn: Callable[[str], None], throttle_s: float = 5.0) -> None:
        self._warn = warn
        self.throttle_s = float(throttle_s)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self._last_warn: dict[str, float] = {}
        self.last_stamp = 0.0

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    def fused(self, stamp: float, keyframe: bool) -> None:
        with self._lock:
            self.counts['fused'] += 1
            self.counts['keyframes'] += int(keyframe)
            self.last_stamp = max(self.last_stamp, stamp)

    def skip(self, reason: str, message: str, stamp: float | None = None) -> None:
        """Count one skipped set; warn (throttled per reason) unless it is deliberate."""
        with self._lock:
            self.skipped[reason] += 1
            if stamp is not None:
                self.last_stamp = max(self.last_stamp, stamp)
            total = self.skipped[reason]
        if reason not in DELIBERATE:
            self._throttled(f'skip:{reason}', f'skipped frame ({reason}): {message} '
                            f'[{total} skipped for this reason]')

    def problem(self, kind: str, message: str) -> None:
        """Count a rejected non-frame input (a bad pose, a failed publish) and warn."""
        with self._lock:
            self.counts[f'errors_{kind}'] += 1
            total = self.counts[f'errors_{kind}']
        self._throttled(kind, f'{message} [{total} so far]')

    def _throttled(self, key: str, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_warn.get(key, -1e9) < self.throttle_s:
                return
            self._last_warn[key] = now
        self._warn(message)

    def snapshot(self) -> dict[str, Any]:
        """Counters as JSON-ready values; ``ingested`` = sets the engine took (fused, or
        checked for a keyframe only)."""
        with self._lock:
            skipped = dict(self.skipped)
            taken = self.counts['fused'] + skipped.get('not_keyframe', 0) + skipped.get(
                'fuse_backlog', 0)
            base = {key: 0 for key in ('synced', 'fused', 'keyframes')}
            return {**base, **self.counts, 'skipped': skipped,
                    'skipped_total': sum(skipped.values()), 'ingested': taken,
                    'last_stamp': self.last_stamp}


@dataclass
class Pending:
    """One received frame set (or cloud) waiting for its pose and the worker."""

    kind: str  # 'rgbd' or 'points'
    stamp: float
    msgs: tuple[Any, ...]
    arrived: float = field(default_factory=time.monotonic)


class IngestWorker:
    """Runs ``process(item, fuse_all)`` on queued items in arrival order, on its own thread.

    Args:
        process: decodes and ingests one item; returns (fused, keyframe) or raises
            (``SkipFrame`` / an error with ``reason``, or any GeodeError = ``bad_input``).
        ready: True once the item's pose is known (or known never to come).
        counters: where outcomes are counted.
        queue: most items waiting; pose_wait_s: longest wait for a pose.
    """

    def __init__(self, process: Callable[[Pending, bool], tuple[bool, bool]],
                 ready: Callable[[Pending], bool], counters: FrameCounters,
                 queue: int = 16, pose_wait_s: float = 0.5) -> None:
        if queue < 1 or pose_wait_s < 0:
            raise GeodeError('ingest queue must be >= 1 and pose wait >= 0 s')
        self.process, self.ready, self.counters = process, ready, counters
        self.capacity, self.pose_wait_s = int(queue), float(pose_wait_s)
        self._items: deque[Pending] = deque()
        self._cv = threading.Condition()
        self._busy = False
        self._stop = False
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- producer side
    def submit(self, item: Pending) -> None:
        """Queue an item (cheap: the sensor callback's only work)."""
        dropped: list[tuple[Pending, str]] = []
        with self._cv:
            self._items.append(item)
            while len(self._items) > self.capacity:
                old = self._items.popleft()
                waiting = not self.ready(old)
                dropped.append((old, 'pose_wait_overflow' if waiting else 'ingest_backlog'))
            self._cv.notify()
        for old, reason in dropped:
            self.counters.skip(reason, f'{self.capacity} frame sets already waiting; dropped '
                               f'the oldest (t={old.stamp:.3f})', old.stamp)

    def poke(self) -> None:
        """A pose arrived: re-check the waiting items now."""
        with self._cv:
            self._cv.notify()

    def waiting(self) -> int:
        with self._cv:
            return len(self._items) + int(self._busy)

    # -------------------------------------------------------------- worker side
    def start(self) -> None:
        self._stop = False
        self._thread = threading.Thread(target=self._run, name='geode_ingest', daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread; items still queued are counted as skipped (``shutdown``)."""
        with self._cv:
            self._stop = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._cv:
            left, self._items = list(self._items), deque()
        for item in left:
            self.counters.skip('shutdown', 'node deactivated with frames queued', item.stamp)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once nothing is queued or being processed (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.waiting() == 0:
                return True
            time.sleep(0.005)
        return False

    def _next(self) -> tuple[Pending, bool] | None:
        """The head item once ready or out of time, and whether to fuse all frames."""
        with self._cv:
            while not self._stop:
                if self._items:
                    head = self._items[0]
                    expired = time.monotonic() - head.arrived >= self.pose_wait_s
                    if expired or self.ready(head):
                        self._items.popleft()
                        self._busy = True
                        return head, len(self._items) < self.capacity // 2
                    self._cv.wait(0.01)  # poses from /tf do not poke: poll briefly
                else:
                    self._cv.wait(0.1)
            return None

    def _run(self) -> None:
        while True:
            nxt = self._next()
            if nxt is None:
                return
            item, fuse_all = nxt
            try:
                self._one(item, fuse_all)
            finally:
                with self._cv:
                    self._busy = False

    def _one(self, item: Pending, fuse_all: bool) -> None:
        try:
            fused, keyframe = self.process(item, fuse_all)
        except GeodeError as exc:
            if isinstance(exc, InputRejected):  # outside what a sensor can produce
                self.counters.add(f'rejected_{exc.reason}')
            self.counters.skip(getattr(exc, 'reason', 'bad_input'), str(exc), item.stamp)
            return
        except Exception as exc:  # noqa: BLE001 - never let one frame kill the thread
            self.counters.skip(str(getattr(exc, 'reason', 'internal_error')), repr(exc),
                               item.stamp)
            return
        if fused:
            self.counters.fused(item.stamp, keyframe)
        else:
            reason = 'not_keyframe' if fuse_all else 'fuse_backlog'
            self.counters.skip(reason, 'fused keyframes only: ingest is behind the camera',
                               item.stamp)
