"""The columnar write path: one name, parallel sequences of timestamps and values.

Pure code, like :mod:`aion.timeseries.writes`, and the same result for the same data, but the
per-value work runs in C where Python allows it: bucket ids come from ``map`` over
``operator`` functions, checks from ``set(map(type, ...))``, and aggregation from
``collections.Counter`` (counts of ones, histograms) or ``dict(zip(...))`` (gauges). A million
values cost a few C passes instead of a million trips through the interpreter loop.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from operator import floordiv, truediv
from typing import Any

from aion.errors import ValidationError
from aion.timeseries.intervals import Calendar, Interval, RelativeTime
from aion.timeseries.kinds import KindOps, refuse_non_finite
from aion.timeseries.protocol import Cell, Kind, WriteBatch
from aion.timeseries.writes import normalize_timestamp

__all__ = ["plan_columns", "plan_mapping"]

_NUMBERS = frozenset({int, float})


def _timestamps(raw: Iterable[Any], now: float) -> list[Any]:
    """The timestamps as Unix seconds, checked in C when they are all ints and floats."""
    stamps = raw if isinstance(raw, list) else list(raw)
    kinds = set(map(type, stamps))
    if kinds <= _NUMBERS:
        if float in kinds and not all(map(math.isfinite, stamps)):
            bad = next(t for t in stamps if not math.isfinite(t))
            raise ValidationError(f"timestamp: {bad!r} is not a finite time", field="timestamp")
        return stamps
    return [normalize_timestamp(t, now) for t in stamps]


def _buckets(calendar: Calendar, stamps: list[Any], all_ints: bool) -> Iterator[int]:
    """``calendar.to_bucket`` of every timestamp; plain division runs in C."""
    if isinstance(calendar, RelativeTime):
        step = repeat(calendar.step)
        if all_ints:
            return map(floordiv, stamps, step)
        return map(math.floor, map(truediv, stamps, step))
    return map(calendar.to_bucket, stamps)


def _check_values(ops: KindOps, values: list[Any]) -> None:
    kinds = set(map(type, values))
    if float in kinds:
        # NaN and infinity are refused before anything is written; all floats: checked in C.
        floats = values if kinds == {float} else [v for v in values if type(v) is float]
        if not all(map(math.isfinite, floats)):
            refuse_non_finite(next(v for v in floats if not math.isfinite(v)))
    if ops.kind is Kind.COUNT and kinds <= _NUMBERS:
        return
    if ops.kind in (Kind.HISTOGRAM, Kind.SET) and all(issubclass(k, Hashable) for k in kinds):
        # A hashable type can still hold an unhashable value (a tuple with a list).
        try:
            set(values)
        except TypeError:
            pass
        else:
            return
    for value in values:
        ops.validate(value)


def _aggregate(kind: Kind, keys: Iterable[Any], values: list[Any] | None) -> dict[Any, Any]:
    """``{key: payload}`` in first-seen key order, payloads as the backends expect them."""
    if values is None:  # counts of 1
        return dict(Counter(keys))
    if kind is Kind.COUNT:
        totals: dict[Any, Any] = {}
        get = totals.get
        for key, value in zip(keys, values, strict=True):
            totals[key] = get(key, 0) + value
        return totals
    if kind is Kind.GAUGE:
        return dict(zip(keys, values, strict=True))  # the last value per key wins
    if kind is Kind.HISTOGRAM:
        pairs = Counter(zip(keys, values, strict=True))
        histograms: dict[Any, dict[Any, int]] = {}
        for (key, value), count in pairs.items():
            histograms.setdefault(key, {})[value] = count
        return histograms
    grouped: dict[Any, Any] = {}
    if kind is Kind.SET:
        for key, value in zip(keys, values, strict=True):
            found = grouped.get(key)
            if found is None:
                grouped[key] = {value}
            else:
                found.add(value)
        return grouped
    for key, value in zip(keys, values, strict=True):  # series: arrival order
        found = grouped.get(key)
        if found is None:
            grouped[key] = [value]
        else:
            found.append(value)
    return grouped


def plan_columns(
    name: str,
    timestamps: Iterable[Any],
    values: Sequence[Any] | None,
    *,
    intervals: Mapping[str, Interval],
    ops: KindOps,
    now: float,
    write_func: Callable[[Any], Any] | None = None,
) -> WriteBatch:
    """Aggregate ``values[i]`` at ``timestamps[i]`` (``values`` None: a count of ones) into
    one batch, checking everything first. Buckets past their ``steps`` retention are skipped,
    as in :func:`~aion.timeseries.writes.plan_writes`."""
    stamps = _timestamps(timestamps, now)
    column: list[Any] | None = None
    if values is None:
        if ops.kind is not Kind.COUNT:
            raise ValidationError(f"inserts into a {ops.kind} need values", field="value")
        if write_func is not None:
            column = [write_func(1)] * len(stamps)
    else:
        column = list(map(write_func, values)) if write_func else list(values)
        if len(column) != len(stamps):
            raise ValidationError(
                f"{len(stamps)} timestamps but {len(column)} values", field="value"
            )
    if column is not None:
        _check_values(ops, column)
        if (
            ops.kind is Kind.COUNT
            and column.count(1) == len(column)
            and float not in set(map(type, column))
        ):
            column = None  # all ones: counting keys in C gives the same totals
    if not stamps:
        return WriteBatch(cells={}, expire_at={})
    all_ints = set(map(type, stamps)) == {int}
    cells: dict[Cell, Any] = {}
    expire_at: dict[tuple[str, str, int], int] = {}
    for interval in intervals.values():
        i_buckets = _buckets(interval.step, stamps, all_ints)
        keys: Iterable[Any] = i_buckets
        if not interval.coarse:
            keys = zip(i_buckets, _buckets(interval.resolution, stamps, all_ints), strict=True)
        aggregated = _aggregate(ops.kind, keys, column)
        expiries: dict[int, int | None] = {}
        for key, payload in aggregated.items():
            i_bucket, r_bucket = (key, None) if interval.coarse else key
            if i_bucket in expiries:
                expiry = expiries[i_bucket]
            else:
                expiry = expiries[i_bucket] = interval.expire_at(i_bucket)
            if expiry is not None:
                if expiry <= now:
                    continue
                expire_at[(name, interval.name, i_bucket)] = expiry
            cells[Cell(name, interval.name, i_bucket, r_bucket)] = payload
    return WriteBatch(cells=cells, expire_at=expire_at)


def plan_mapping(
    inserts: Mapping[Any, Mapping[str, Iterable[Any]]],
    *,
    intervals: Mapping[str, Interval],
    ops: KindOps,
    now: float,
    write_func: Callable[[Any], Any] | None = None,
    check_name: Callable[[str], None] | None = None,
) -> WriteBatch:
    """``{timestamp: {name: [values]}}`` through the columnar path: one pass gathers each
    name's columns (in the mapping's order, which series keep), then :func:`plan_columns`."""
    columns: dict[str, tuple[list[Any], list[Any]]] = {}
    for raw_ts, by_name in inserts.items():
        kind_of_ts = type(raw_ts)
        ts = (
            raw_ts if kind_of_ts is int or kind_of_ts is float else normalize_timestamp(raw_ts, now)
        )
        if type(by_name) is not dict and not isinstance(by_name, Mapping):
            raise ValidationError("bulk inserts are {timestamp: {name: [values]}}", field="inserts")
        for name, raw_values in by_name.items():
            found = columns.get(name)
            if found is None:
                if not isinstance(name, str) or not name:
                    raise ValidationError(f"names must be non-empty strings, not {name!r}", "name")
                if check_name is not None:
                    check_name(name)
                found = columns[name] = ([], [])
            if type(raw_values) is not list:
                if isinstance(raw_values, str | bytes) or not isinstance(raw_values, Iterable):
                    raw_values = [raw_values]
                raw_values = list(raw_values)
            if len(raw_values) == 1:
                found[0].append(ts)
                found[1].append(raw_values[0])
            else:
                found[0].extend([ts] * len(raw_values))
                found[1].extend(raw_values)
    cells: dict[Cell, Any] = {}
    expire_at: dict[tuple[str, str, int], int] = {}
    for name, (stamps, values) in columns.items():
        batch = plan_columns(
            name, stamps, values, intervals=intervals, ops=ops, now=now, write_func=write_func
        )
        cells.update(batch.cells)
        expire_at.update(batch.expire_at)
    return WriteBatch(cells=cells, expire_at=expire_at)
