"""The times PyKronos's client accepted, read the way it read them.

PyKronos passed every string ``@time``, ``start_time`` and ``end_time`` through dateutil's
``parse`` and every ``datetime`` through ``datetime_to_kronos_time`` (a naive one is UTC);
integers were kronos time already. So ``"2014-06-20 10:30"``, ``"2014-06-20T10:30:00+02:00"``,
``"Fri, 20 Jun 2014 10:30:00 GMT"``, ``"June 20, 2014"`` and ``"20140620"`` (a date, not
epoch seconds) all mean what they meant there. A string dateutil cannot read falls back to
Aion's own forms (epoch seconds); ``now`` and relative times (``-10m``) are always Aion's.
Anything else is refused with ``InvalidTimeValue`` naming the field.
"""

from __future__ import annotations

from dateutil import parser as dateutil_parser

from aion.core.time import datetime_to_kronos_time, to_kronos_time
from aion.errors import InvalidTimeValue

__all__ = ["pykronos_time"]

_MAX_TEXT = 200  # dateutil's parser is slow on long junk; no real time is this long


def _aion_form(text: str) -> bool:
    """``now`` and relative times (``-10m``): Aion's forms, which dateutil would misread
    (it takes ``-10m`` for ten past midnight today)."""
    stripped = text.strip()
    return stripped.lower() == "now" or stripped.startswith(("-", "+"))


def pykronos_time(value: object, field: str = "time") -> int:
    """``value`` as kronos time, by PyKronos's rules (see the module's docstring): a string
    through dateutil first, everything else (and what dateutil cannot read) as Aion reads it."""
    if isinstance(value, str) and len(value) <= _MAX_TEXT and not _aion_form(value):
        try:
            return datetime_to_kronos_time(dateutil_parser.parse(value))
        except (ValueError, OverflowError):
            pass  # not a date dateutil knows: try Aion's forms below
    try:
        return to_kronos_time(value)
    except InvalidTimeValue as exc:
        raise InvalidTimeValue(f"{field}: {exc}", field=field) from exc
