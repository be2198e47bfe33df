"""Interval configuration and bucket math, pure and in UTC.

An interval is ``{"step": ..., "steps": ..., "resolution": ...}``. ``step`` and ``resolution``
accept whole seconds (an int or a digit string), Kairos's simple-time strings ``<n>h``, ``<n>d``,
``<n>w``, ``<n>m`` and ``<n>y`` (where, as in Kairos, ``m`` is a 30-day month and ``y`` a 365-day
year; there is no minute letter, write ``300`` for five minutes), or one of the gregorian
names ``daily``, ``weekly``, ``monthly``, ``yearly``.

A relative bucket is ``floor(ts / step)`` and its key is ``bucket * step``. A gregorian bucket is
the UTC date written as an integer (``%Y%m%d``, ``%Y%U``, ``%Y%m``, ``%Y``) and its key is the Unix
time of its first second. Unlike Kairos, gregorian keys are computed in UTC (not local time), and
a weekly key is the real start of that ``%U`` week (Kairos used Jan 1 + N weeks).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from aion.errors import ValidationError

__all__ = [
    "SIMPLE_TIMES",
    "Calendar",
    "Gregorian",
    "GregorianTime",
    "Interval",
    "RelativeTime",
    "parse_intervals",
    "parse_time_spec",
]

SIMPLE_TIMES: Mapping[str, int] = {
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "m": 30 * 86400,
    "y": 365 * 86400,
}
_NUMBER = re.compile(r"^\d+$")
_SIMPLE = re.compile(r"^(\d+)([hdwmy])$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Gregorian(StrEnum):
    """The calendar steps; their buckets follow the UTC calendar."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"


# Approximate lengths, used only to order a resolution against its step.
_GREGORIAN_SECONDS = {
    Gregorian.DAILY: SIMPLE_TIMES["d"],
    Gregorian.WEEKLY: SIMPLE_TIMES["w"],
    Gregorian.MONTHLY: SIMPLE_TIMES["m"],
    Gregorian.YEARLY: SIMPLE_TIMES["y"],
}


def parse_time_spec(value: object, field: str = "step") -> int | Gregorian:
    """Seconds (int) or a :class:`Gregorian` step from a Kairos-style time spec."""
    if isinstance(value, bool):
        raise ValidationError(f"{field}: a boolean is not a time span", field=field)
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, float) and value.is_integer():
        seconds = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if text in Gregorian.__members__.values():
            return Gregorian(text)
        if _NUMBER.match(text):
            seconds = int(text)
        elif simple := _SIMPLE.match(text):
            seconds = int(simple.group(1)) * SIMPLE_TIMES[simple.group(2)]
        else:
            raise ValidationError(
                f"{field}: unsupported time format {value!r}; use seconds, <n>[hdwmy] "
                "(m = 30 days) or daily/weekly/monthly/yearly",
                field=field,
            )
    else:
        raise ValidationError(f"{field}: unsupported time value {value!r}", field=field)
    if seconds <= 0:
        raise ValidationError(f"{field}: must be a positive number of seconds", field=field)
    return seconds


@dataclass(frozen=True, slots=True)
class RelativeTime:
    """Buckets of a fixed number of seconds since the epoch."""

    step: int

    def to_bucket(self, timestamp: float) -> int:
        """The bucket holding ``timestamp`` (floor division, so times before 1970 work too)."""
        if isinstance(timestamp, int):
            return timestamp // self.step
        return math.floor(timestamp / self.step)

    def start(self, bucket: int) -> int:
        """Unix time of the first second of ``bucket``: its key."""
        return bucket * self.step

    def shift(self, bucket: int, steps: int) -> int:
        """The bucket ``steps`` buckets after (or before, if negative) ``bucket``."""
        return bucket + steps

    def duration(self, bucket: int) -> int:
        """Seconds covered by ``bucket``."""
        return self.step

    def range(self, first: int, last: int) -> list[int]:
        """Every bucket from ``first`` to ``last``, inclusive."""
        return list(range(first, last + 1))

    @property
    def approximate_seconds(self) -> int:
        """The step in seconds."""
        return self.step


@dataclass(frozen=True, slots=True)
class GregorianTime:
    """Calendar buckets in UTC, keyed by the date as an integer such as ``20240131``."""

    unit: Gregorian

    def to_bucket(self, timestamp: float) -> int:
        """The bucket holding ``timestamp``."""
        moment = _EPOCH + timedelta(seconds=timestamp)
        return self._bucket_of(moment)

    def _bucket_of(self, moment: datetime) -> int:
        if self.unit is Gregorian.DAILY:
            return moment.year * 10000 + moment.month * 100 + moment.day
        if self.unit is Gregorian.WEEKLY:
            return moment.year * 100 + int(moment.strftime("%U"))
        if self.unit is Gregorian.MONTHLY:
            return moment.year * 100 + moment.month
        return moment.year

    def _start_datetime(self, bucket: int) -> datetime:
        if self.unit is Gregorian.DAILY:
            year, rest = divmod(bucket, 10000)
            month, day = divmod(rest, 100)
            return datetime(year, month, day, tzinfo=UTC)
        if self.unit is Gregorian.WEEKLY:
            year, week = divmod(bucket, 100)
            jan1 = datetime(year, 1, 1, tzinfo=UTC)
            if week == 0:
                return jan1
            # %U week 1 starts on the year's first Sunday (weekday() == 6).
            first_sunday = jan1 + timedelta(days=(6 - jan1.weekday()) % 7)
            return first_sunday + timedelta(weeks=week - 1)
        if self.unit is Gregorian.MONTHLY:
            year, month = divmod(bucket, 100)
            return datetime(year, month, 1, tzinfo=UTC)
        return datetime(bucket, 1, 1, tzinfo=UTC)

    def start(self, bucket: int) -> int:
        """Unix time of the first second of ``bucket``: its key."""
        return int((self._start_datetime(bucket) - _EPOCH).total_seconds())

    def _next(self, bucket: int) -> int:
        begin = self._start_datetime(bucket)
        if self.unit is Gregorian.DAILY:
            return self._bucket_of(begin + timedelta(days=1))
        if self.unit is Gregorian.WEEKLY:
            # Week 0 and the last week of a year are partial; step to the next Sunday or Jan 1.
            following = begin + timedelta(days=7 - (begin.weekday() + 1) % 7)
            new_year = datetime(begin.year + 1, 1, 1, tzinfo=UTC)
            return self._bucket_of(min(following, new_year))
        if self.unit is Gregorian.MONTHLY:
            year, month = divmod(bucket, 100)
            return (year + month // 12) * 100 + month % 12 + 1
        return bucket + 1

    def _previous(self, bucket: int) -> int:
        return self._bucket_of(self._start_datetime(bucket) - timedelta(seconds=1))

    def shift(self, bucket: int, steps: int) -> int:
        """The bucket ``steps`` buckets after (or before, if negative) ``bucket``."""
        if self.unit is Gregorian.YEARLY:
            return bucket + steps
        if self.unit is Gregorian.MONTHLY:
            year, month = divmod(bucket, 100)
            index = year * 12 + month - 1 + steps
            return (index // 12) * 100 + index % 12 + 1
        move = self._next if steps > 0 else self._previous
        for _ in range(abs(steps)):
            bucket = move(bucket)
        return bucket

    def duration(self, bucket: int) -> int:
        """Seconds covered by ``bucket``: always whole days."""
        return self.start(self._next(bucket)) - self.start(bucket)

    def range(self, first: int, last: int) -> list[int]:
        """Every bucket from ``first`` to ``last``, inclusive."""
        buckets = [first]
        while buckets[-1] < last:
            buckets.append(self._next(buckets[-1]))
        return buckets

    @property
    def approximate_seconds(self) -> int:
        """A nominal length, for ordering only."""
        return _GREGORIAN_SECONDS[self.unit]


Calendar = RelativeTime | GregorianTime


def _calendar(spec: int | Gregorian) -> Calendar:
    return GregorianTime(spec) if isinstance(spec, Gregorian) else RelativeTime(spec)


@dataclass(frozen=True, slots=True)
class Interval:
    """One named interval: its step calendar, optional retention ``steps`` and resolution."""

    name: str
    step: Calendar
    resolution: Calendar
    steps: int | None = None

    @property
    def coarse(self) -> bool:
        """True when the resolution is the step, so each bucket holds one row."""
        return self.step == self.resolution

    def expire_at(self, bucket: int) -> int | None:
        """When data in ``bucket`` expires (Unix seconds), or None without ``steps``.

        The data-time rule: a bucket lives until ``steps`` buckets after it begin, whatever
        the time it was written; a write whose expiry is already past is skipped.
        """
        if self.steps is None:
            return None
        return self.step.start(self.step.shift(bucket, self.steps))

    def expired_before(self, now: float) -> int | None:
        """The newest bucket that ``expire()`` deletes at ``now``, or None without ``steps``."""
        if self.steps is None:
            return None
        return self.step.shift(self.step.to_bucket(now), -self.steps)

    def series_buckets(
        self, start: float | None, end: float | None, steps: int | None, now: float
    ) -> list[int]:
        """The interval buckets a ``series()`` read covers, oldest first.

        Both ``start`` and ``end``: every bucket between them. Only ``start``: ``steps`` buckets
        from it. Only ``end``: ``steps`` buckets ending with it. Neither: ``steps`` ending now.
        ``steps`` defaults to the configured ``steps``, else 1.
        """
        count = steps if steps is not None else (self.steps or 1)
        if count <= 0:
            raise ValidationError("steps must be a positive number of buckets", field="steps")
        if start is not None and end is not None:
            first, last = self.step.to_bucket(start), self.step.to_bucket(end)
            last = max(first, last)
        elif start is not None:
            first = self.step.to_bucket(start)
            last = self.step.shift(first, count - 1)
        else:
            last = self.step.to_bucket(now if end is None else end)
            first = self.step.shift(last, -(count - 1))
        return self.step.range(first, last)


def _parse_one(name: object, config: object) -> Interval:
    if not isinstance(name, str) or not name:
        raise ValidationError(f"interval names must be non-empty strings, not {name!r}")
    if not isinstance(config, Mapping):
        raise ValidationError(f"interval {name!r}: the configuration must be a mapping")
    unknown = set(config) - {"step", "steps", "resolution"}
    if unknown:
        raise ValidationError(f"interval {name!r}: unknown settings {sorted(unknown)}")
    if "step" not in config:
        raise ValidationError(f"interval {name!r}: 'step' is required", field="step")
    step = parse_time_spec(config["step"], "step")
    resolution = parse_time_spec(config.get("resolution", step), "resolution")
    steps: Any = config.get("steps")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0):
        raise ValidationError(f"interval {name!r}: steps must be a positive int", field="steps")
    step_cal, res_cal = _calendar(step), _calendar(resolution)
    if res_cal.approximate_seconds > step_cal.approximate_seconds:
        raise ValidationError(
            f"interval {name!r}: the resolution is coarser than the step", field="resolution"
        )
    return Interval(name=name, step=step_cal, resolution=res_cal, steps=steps)


def parse_intervals(intervals: Mapping[str, Mapping[str, object]]) -> dict[str, Interval]:
    """Validate a Kairos ``intervals`` mapping into :class:`Interval` values."""
    if not isinstance(intervals, Mapping) or not intervals:
        raise ValidationError("intervals must be a non-empty mapping", field="intervals")
    return {name: _parse_one(name, config) for name, config in intervals.items()}
