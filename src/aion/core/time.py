"""Kronos time: integer 100 ns ticks since the Unix epoch, UTC, and exact converters.

Every wire format converts to kronos time without going through a lossy float where it can
avoid one: seconds given as floats are read through their shortest decimal form, milliseconds
and timedeltas with integer arithmetic. Naive datetimes are taken as UTC.

The pykronos helper names are kept. Unlike pykronos, ``kronos_time_to_epoch_time`` and
``kronos_time_to_datetime`` keep sub-second precision instead of truncating to whole seconds.
"""

from __future__ import annotations

import re
import time as _time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from aion.errors import InvalidTimeValue

__all__ = [
    "EPOCH",
    "MAX_SECONDS",
    "MAX_TIME_TEXT",
    "TICKS_PER_MILLISECOND",
    "TICKS_PER_SECOND",
    "TimeLike",
    "datetime_to_epoch_time",
    "datetime_to_kronos_time",
    "epoch_time_to_kronos_time",
    "iso_to_kronos_time",
    "kronos_time_now",
    "kronos_time_to_datetime",
    "kronos_time_to_epoch_time",
    "kronos_time_to_milliseconds",
    "milliseconds_to_kronos_time",
    "parse_time",
    "timedelta_to_kronos_time",
    "to_kronos_time",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TimeLike = int | str | datetime | date | timedelta
"""A time the clients take: kronos ticks (int), a string for :func:`parse_time` (ISO-8601, epoch
seconds, ``now``, ``-1h``), a datetime or date (naive is UTC), or a timedelta since the epoch.
A float is refused: seconds or ticks would be a guess."""
TICKS_PER_SECOND = 10_000_000
TICKS_PER_MILLISECOND = 10_000
_TICKS_PER_MICROSECOND = 10
_SECONDS_PER_DAY = 86_400

MAX_TIME_TEXT = 64
"""The longest time string :func:`parse_time` reads."""
MAX_SECONDS = (2**63 - 1) // 10_000_000
"""Epoch seconds (and relative offsets) whose 100 ns ticks fit a signed 64-bit integer."""
_RELATIVE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
    "d": Decimal(86400),
    "w": Decimal(604800),
}


def timedelta_to_kronos_time(td: timedelta) -> int:
    """A duration as a count of ticks, exactly."""
    return (
        td.days * _SECONDS_PER_DAY + td.seconds
    ) * TICKS_PER_SECOND + td.microseconds * _TICKS_PER_MICROSECOND


def datetime_to_kronos_time(dt: datetime | date) -> int:
    """A datetime as kronos time; a naive one is UTC, a ``date`` is its UTC midnight."""
    if not isinstance(dt, datetime):
        dt = datetime(dt.year, dt.month, dt.day, tzinfo=UTC)
    elif dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return timedelta_to_kronos_time(dt - EPOCH)


def datetime_to_epoch_time(dt: datetime | date) -> float:
    """A datetime as float seconds since the epoch (naive is UTC)."""
    return datetime_to_kronos_time(dt) / TICKS_PER_SECOND


def kronos_time_to_datetime(t: int) -> datetime:
    """Kronos time as an aware UTC datetime, to the microsecond (ticks below it are dropped)."""
    return EPOCH + timedelta(microseconds=t // _TICKS_PER_MICROSECOND)


def epoch_time_to_kronos_time(seconds: float | int | Decimal) -> int:
    """Seconds since the epoch as kronos time, read through the number's decimal form."""
    if isinstance(seconds, bool):
        raise InvalidTimeValue("a boolean is not a time", field="time")
    if isinstance(seconds, int):
        return seconds * TICKS_PER_SECOND
    try:
        exact = seconds if isinstance(seconds, Decimal) else Decimal(repr(float(seconds)))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidTimeValue(f"not a number of seconds: {seconds!r}", field="time") from exc
    if not exact.is_finite():
        raise InvalidTimeValue(f"not a finite number of seconds: {seconds!r}", field="time")
    return int((exact * TICKS_PER_SECOND).to_integral_value())


def kronos_time_to_epoch_time(t: int) -> float:
    """Kronos time as float seconds since the epoch."""
    return t / TICKS_PER_SECOND


def milliseconds_to_kronos_time(ms: int) -> int:
    """Integer milliseconds since the epoch (Samsara's unit) as kronos time."""
    return ms * TICKS_PER_MILLISECOND


def kronos_time_to_milliseconds(t: int) -> int:
    """Kronos time as integer milliseconds since the epoch, rounded down."""
    return t // TICKS_PER_MILLISECOND


def kronos_time_now() -> int:
    """Now, as kronos time."""
    return _time.time_ns() // 100


def iso_to_kronos_time(text: str) -> int:
    """An ISO-8601 date or datetime string as kronos time; no zone means UTC."""
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        try:
            from dateutil import parser as _dateutil_parser

            parsed = _dateutil_parser.isoparse(text.strip())
        except (ValueError, OverflowError) as exc:
            raise InvalidTimeValue(f"not an ISO-8601 time: {text!r}", field="time") from exc
    return datetime_to_kronos_time(parsed)


def parse_time(text: str, now: int | None = None) -> int:
    """A time as people type it: ISO-8601, epoch seconds, or relative to now (``-10m``, ``-2h``).

    Relative units are ms, s, m (minutes), h, d and w.
    """
    stripped = text.strip()
    if not stripped:
        raise InvalidTimeValue("an empty string is not a time", field="time")
    if len(stripped) > MAX_TIME_TEXT:
        raise InvalidTimeValue(f"a time is at most {MAX_TIME_TEXT} characters", field="time")
    relative = _RELATIVE.match(stripped)
    if relative:
        sign, amount, unit = relative.groups()
        seconds = _in_range(Decimal(amount) * _UNIT_SECONDS[unit], stripped)
        delta = int(seconds * TICKS_PER_SECOND)
        base = kronos_time_now() if now is None else now
        return base - delta if sign == "-" else base + delta
    if stripped.lower() == "now":
        return kronos_time_now() if now is None else now
    try:
        number = Decimal(stripped)
    except InvalidOperation:
        return iso_to_kronos_time(stripped)
    if number.is_finite():
        number = _in_range(number, stripped)
    return epoch_time_to_kronos_time(number)


def _in_range(seconds: Decimal, text: str) -> Decimal:
    """``seconds`` when its ticks fit a signed 64-bit integer; checked on the exponent first,
    so ``1e1000000`` costs nothing."""
    if seconds.adjusted() > 12 or abs(seconds) > MAX_SECONDS:
        raise InvalidTimeValue(
            f"{text[:40]!r} is out of range: times are within {MAX_SECONDS} seconds of 1970",
            field="time",
        )
    return seconds


def to_kronos_time(value: object) -> int:
    """Any supported time form as kronos time: an int is already kronos time; a string may be
    ISO-8601, epoch seconds, ``now`` or relative (see ``parse_time``)."""
    if isinstance(value, bool):
        raise InvalidTimeValue("a boolean is not a time", field="time")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime | date):
        return datetime_to_kronos_time(value)
    if isinstance(value, timedelta):
        return timedelta_to_kronos_time(value)
    if isinstance(value, str):
        return parse_time(value)
    if isinstance(value, float | Decimal):
        raise InvalidTimeValue(
            "a float is ambiguous as kronos time; convert seconds with epoch_time_to_kronos_time",
            field="time",
        )
    raise InvalidTimeValue(f"cannot read {type(value).__name__} as a time", field="time")
