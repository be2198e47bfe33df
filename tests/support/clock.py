"""A fake wall clock for one participant: shift ``time.time`` and ``time.time_ns`` (what
kronos time and every "now" in Aion read) by some seconds, as a server whose clock is off.
Monotonic time is left alone, as a real clock error leaves it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

_REAL_TIME = time.time
_REAL_TIME_NS = time.time_ns


def shift_wall_clock(seconds: float) -> None:
    """From now on this process's wall clock runs ``seconds`` ahead (behind if negative)."""
    offset_ns = round(seconds * 1e9)
    time.time = lambda: _REAL_TIME() + seconds
    time.time_ns = lambda: _REAL_TIME_NS() + offset_ns


@contextmanager
def wall_clock_shifted(seconds: float) -> Iterator[None]:
    """The wall clock ``seconds`` off for the duration of the block."""
    saved = time.time, time.time_ns
    shift_wall_clock(seconds)
    try:
        yield
    finally:
        time.time, time.time_ns = saved
