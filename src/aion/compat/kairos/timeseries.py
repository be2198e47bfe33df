"""Kairos's ``kairos.timeseries`` module: the names Kairos code imported from it.

``from kairos.timeseries import Timeseries, RelativeTime, GregorianTime`` becomes
``from aion.compat.kairos.timeseries import Timeseries, RelativeTime, GregorianTime``.
"""

from __future__ import annotations

from aion.compat.kairos import Timeseries
from aion.compat.kairos.calendars import (
    GREGORIAN_TIMES,
    SIMPLE_TIMES,
    GregorianTime,
    RelativeTime,
)
from aion.compat.kairos.exceptions import KairosException, UnknownInterval

__all__ = [
    "GREGORIAN_TIMES",
    "SIMPLE_TIMES",
    "GregorianTime",
    "KairosException",
    "RelativeTime",
    "Timeseries",
    "UnknownInterval",
]
