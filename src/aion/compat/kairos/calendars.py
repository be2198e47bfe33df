"""Kairos's ``RelativeTime`` and ``GregorianTime``: its bucket math with its method names.

Kairos code that computes buckets itself (``RelativeTime(60).to_bucket(ts)``,
``GregorianTime('daily').step_size(ts)``, ``.ttl(steps, relative_time)``) runs unchanged over
Aion's calendars (:mod:`aion.timeseries.intervals`), with two fixes: gregorian times are UTC
whatever ``TZ`` says (Kairos used local ``mktime``), and a weekly bucket starts on the real first
day of its ``%U`` week (Kairos used Jan 1 + N weeks). Relative buckets floor negative times
(Kairos truncated them towards zero).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from aion.errors import ValidationError
from aion.timeseries import intervals as calendars
from aion.timeseries.intervals import SIMPLE_TIMES, Gregorian

__all__ = ["GREGORIAN_TIMES", "SIMPLE_TIMES", "GregorianTime", "RelativeTime"]

#: The gregorian step names, as Kairos exported them.
GREGORIAN_TIMES = frozenset(g.value for g in Gregorian)
_DAY = SIMPLE_TIMES["d"]


class RelativeTime:
    """Buckets of ``step`` seconds since the epoch."""

    def __init__(self, step: int = 1) -> None:
        if isinstance(step, bool) or not isinstance(step, int) or step <= 0:
            raise ValidationError(f"step must be a positive int, not {step!r}", field="step")
        self._step = step
        self._calendar = calendars.RelativeTime(step)

    def step_size(self, t0: float | None = None, t1: float | None = None) -> int:
        """Seconds in a step; with ``t0`` and ``t1``, from the start of ``t0``'s bucket to the
        end of ``t1``'s (one step when they share a bucket)."""
        if t0 is not None and t1 is not None:
            first, after = self.to_bucket(t0), self.to_bucket(t1, steps=1)
            if first == after:
                return self._step
            return self.from_bucket(after) - self.from_bucket(first)
        return self._step

    def to_bucket(self, timestamp: float, steps: int = 0) -> int:
        """The bucket holding ``timestamp``, moved by ``steps`` buckets."""
        return self._calendar.to_bucket(timestamp) + steps

    def from_bucket(self, bucket: int) -> int:
        """The Unix time ``bucket`` starts at."""
        return self._calendar.start(bucket)

    def buckets(self, start: float, end: float) -> list[int]:
        """Every bucket from ``start``'s to ``end``'s, inclusive."""
        return list(range(self.to_bucket(start), self.to_bucket(end) + 1))

    def normalize(self, timestamp: float, steps: int = 0) -> int:
        """The start of the bucket ``steps`` after (or before) ``timestamp``'s."""
        return self.from_bucket(self.to_bucket(timestamp, steps))

    def ttl(self, steps: int | None, relative_time: float | None = None) -> int | None:
        """Seconds to keep data: ``steps`` buckets, or with ``relative_time`` what is left of
        them counted from that time's bucket (0 when it is already past); None without steps."""
        if not steps:
            return None
        if relative_time:
            written, now = self.to_bucket(relative_time), self.to_bucket(time.time())
            if now - written > steps:
                return 0
            return (steps + written - now) * self._step
        return steps * self._step


class GregorianTime:
    """UTC calendar buckets: ``daily`` (``%Y%m%d``), ``weekly`` (``%Y%U``), ``monthly``
    (``%Y%m``) or ``yearly`` (``%Y``), each bucket id an int such as ``20240131``."""

    def __init__(self, step: str = "daily") -> None:
        if step not in GREGORIAN_TIMES:
            raise ValidationError(
                f"step must be one of {', '.join(sorted(GREGORIAN_TIMES))}, not {step!r}",
                field="step",
            )
        self._step = step
        self._calendar = calendars.GregorianTime(Gregorian(step))

    def step_size(self, t0: float, t1: float | None = None) -> int:
        """Whole days, in seconds, from the start of ``t0``'s bucket to the end of ``t1``'s
        (or of ``t0``'s): a month is 28 to 31 days."""
        first = self.to_bucket(t0)
        after = self.to_bucket(t0 if t1 is None else t1, steps=1)
        seconds = self._calendar.start(after) - self._calendar.start(first)
        return seconds // _DAY * _DAY

    def to_bucket(self, timestamp: float, steps: int = 0) -> int:
        """The bucket holding ``timestamp``, moved by ``steps`` buckets."""
        bucket = self._calendar.to_bucket(timestamp)
        return self._calendar.shift(bucket, steps) if steps else bucket

    def from_bucket(self, bucket: int, native: bool = False) -> int | datetime:
        """The Unix time ``bucket`` starts at, or with ``native`` a naive UTC datetime."""
        start = self._calendar.start(int(bucket))
        if native:
            return datetime(1970, 1, 1) + timedelta(seconds=start)
        return start

    def buckets(self, start: float, end: float) -> list[int]:
        """Every bucket from ``start``'s to ``end``'s, inclusive."""
        first, last = self.to_bucket(start), self.to_bucket(end)
        return self._calendar.range(first, max(first, last))

    def normalize(self, timestamp: float, steps: int = 0) -> int:
        """The start of the bucket ``steps`` after (or before) ``timestamp``'s."""
        return self._calendar.start(self.to_bucket(timestamp, steps))

    def ttl(self, steps: int | None, relative_time: float | None = None) -> int | None:
        """Seconds to keep data, in whole days as Kairos counted them (a month is 30 days, a
        year 365); with ``relative_time``, what is left counted from its bucket (0 when past);
        None without steps."""
        if not steps:
            return None
        seconds = steps * SIMPLE_TIMES[self._step[0]]
        if relative_time:
            written = self._calendar.start(self.to_bucket(relative_time))
            now = self._calendar.start(self.to_bucket(time.time()))
            days_ago, days_kept = (now - written) // _DAY, seconds // _DAY
            if days_ago > days_kept:
                return 0
            return (days_kept - days_ago) * _DAY
        return seconds
