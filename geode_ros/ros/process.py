"""Process-wide settings of a node process (allocator), applied before rclpy starts threads."""

from __future__ import annotations

import ctypes
import os
import sys

# glibc's mallopt option number for the arena limit (malloc.h: M_ARENA_MAX).
_M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc malloc arenas (as ``MALLOC_ARENA_MAX`` would) unless the user set that.

    Image buffers of ~1 MB are allocated on the DDS threads and freed on the ingest
    thread; with glibc's default of 8 arenas per core the resident memory of a node at
    30 Hz crept +5.5% over 10 minutes with constant scene memory (``geode-bench soak``),
    within +4% with two. True when the limit was applied.
    """
    if 'MALLOC_ARENA_MAX' in os.environ or not sys.platform.startswith('linux'):
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(_M_ARENA_MAX, int(arenas)))
    except (OSError, AttributeError):  # not glibc
        return False
