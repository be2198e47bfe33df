"""Numeric read semantics: stored values come back as numbers wherever they are numbers.

Backends return values in their own forms: Redis returns text (``"12"``, ``"2.5"``), an SQL
float column returns ``12.0`` for a written ``12``, memory returns what was written. Pass
:func:`read_number` as ``read_func`` and every backend reads alike: ``12``, ``2.5``, and text
that is not a number stays text. Rollup rules (``[[rollups]]``) read this way, so their
histograms, series, sets and gauges can be transformed (``mean``, ``sum``...) on every backend.

>>> [read_number(v) for v in ("12", "-2.5", "1e3", 12.0, "GET", " 12", "nan")]
[12, -2.5, 1000, 12, 'GET', ' 12', 'nan']
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["read_number"]

# JSON's number grammar: no spaces, underscores, hex, "nan" or "inf" (which float() takes).
_INTEGER = re.compile(r"-?(?:0|[1-9]\d*)")
_DECIMAL = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
# Whole floats within this bound become ints: exact, and small enough for any JSON reader.
_EXACT = 2**53


def _whole(number: float) -> int | float:
    if number.is_integer() and abs(number) <= _EXACT:
        return int(number)
    return number


def read_number(value: Any) -> Any:
    """``value`` as an ``int`` or ``float`` when it is or spells a finite number, else as is.

    Whole floats become ints (``12.0`` reads as ``12``), so a value written as ``12`` reads
    the same from Redis (text), SQL (a float column) and memory. Booleans stay booleans.
    """
    if isinstance(value, bytes | bytearray):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            return value
    if isinstance(value, str):
        if len(value) <= 18 and _INTEGER.fullmatch(value):  # fits an int64: exact
            return int(value)
        if _DECIMAL.fullmatch(value):
            parsed = float(value)
            return _whole(parsed) if math.isfinite(parsed) else value
        return value
    if isinstance(value, float):
        return _whole(value) if math.isfinite(value) else value
    return value
