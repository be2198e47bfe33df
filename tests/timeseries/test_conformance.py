"""One behaviour suite over every backend (memory, Redis, SQLite, PostgreSQL, MariaDB).

Ported from the behaviours of Kairos's functional helpers (api, series, histogram, count,
gauge, set, gregorian, SQL expire), plus the Kairos bugs Aion fixes. Fixed timestamps are used
only with intervals that have no ``steps``, so no test depends on today's date.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from aion.errors import NotFound, ValidationError
from aion.timeseries import UnknownInterval
from tests.timeseries.conftest import MakeTs

T = 1_800_000_000  # a whole hour (2027-01-15 08:00 UTC)
INTERVALS = {"minute": {"step": 60}, "hour": {"step": "1h", "resolution": 60}}
KINDS = ["series", "histogram", "count", "gauge", "set"]


def make(make_ts: MakeTs, kind: str, **kwargs: Any) -> Any:
    kwargs.setdefault("intervals", INTERVALS)
    if kind != "count":
        kwargs.setdefault("read_func", int)
    return make_ts(type=kind, **kwargs)


def shape(kind: str, values: list[int]) -> Any:
    """What a bucket holding ``values`` (in order) reads as for each type."""
    if kind == "series":
        return values
    if kind == "histogram":
        out: dict[int, int] = {}
        for v in values:
            out[v] = out.get(v, 0) + 1
        return out
    if kind == "count":
        return sum(values)
    if kind == "gauge":
        return values[-1] if values else None
    return set(values)


EMPTY = {"series": [], "histogram": {}, "count": 0, "gauge": None, "set": set()}


@pytest.mark.parametrize("kind", KINDS)
def test_insert_get_every_type(make_ts: MakeTs, kind: str) -> None:
    ts = make(make_ts, kind)
    ts.insert("stat", [1, 2], timestamp=T)
    ts.insert("stat", 2, timestamp=T + 1)
    ts.insert("stat", 5, timestamp=T + 61)
    assert ts.get("stat", "minute", timestamp=T + 59) == {T: shape(kind, [1, 2, 2])}
    assert ts.get("stat", "minute", timestamp=T + 60) == {T + 60: shape(kind, [5])}
    assert ts.get("stat", "minute", timestamp=T - 1) == {T - 60: EMPTY[kind]}
    # fine interval: only resolution buckets holding data
    assert ts.get("stat", "hour", timestamp=T + 3599) == {
        T: shape(kind, [1, 2, 2]),
        T + 60: shape(kind, [5]),
    }
    assert ts.get("stat", "hour", timestamp=T, condense=True) == {T: shape(kind, [1, 2, 2, 5])}
    assert ts.get("stat", "hour", timestamp=T, condensed=True) == {T: shape(kind, [1, 2, 2, 5])}
    assert ts.get("stat", "hour", timestamp=T - 1) == {}


@pytest.mark.parametrize("kind", KINDS)
def test_bulk_insert_and_series(make_ts: MakeTs, kind: str) -> None:
    ts = make(make_ts, kind)
    ts.bulk_insert({T: {"a": [1, 2], "b": [3]}, T + 120: {"a": [4]}, T + 3600: {"a": [6]}})
    assert ts.series("a", "minute", start=T, end=T + 180) == {
        T: shape(kind, [1, 2]),
        T + 60: EMPTY[kind],
        T + 120: shape(kind, [4]),
        T + 180: EMPTY[kind],
    }
    assert ts.series("b", "minute", start=T, steps=2) == {T: shape(kind, [3]), T + 60: EMPTY[kind]}
    assert list(ts.series("a", "minute", end=T + 120, steps=3)) == [T, T + 60, T + 120]
    assert ts.series("a", "hour", start=T, end=T + 3600) == {
        T: {T: shape(kind, [1, 2]), T + 120: shape(kind, [4])},
        T + 3600: {T + 3600: shape(kind, [6])},
    }
    assert ts.series("a", "hour", start=T, end=T + 3600, condense=True) == {
        T: shape(kind, [1, 2, 4]),
        T + 3600: shape(kind, [6]),
    }
    assert ts.series("a", "hour", start=T, end=T + 3600, collapse=True) == {
        T: shape(kind, [1, 2, 4, 6])
    }
    assert ts.series("a", "minute", start=T, end=T + 120, collapse=True) == {
        T: shape(kind, [1, 2, 4])
    }


@pytest.mark.parametrize("kind", KINDS)
def test_joined_names(make_ts: MakeTs, kind: str) -> None:
    ts = make(make_ts, kind)
    ts.bulk_insert({T: {"a": [1], "b": [2]}, T + 60: {"b": [3]}})
    assert ts.get(["a", "b"], "minute", timestamp=T) == {T: shape(kind, [1, 2])}
    assert ts.get(["a", "b"], "hour", timestamp=T) == {
        T: shape(kind, [1, 2]),
        T + 60: shape(kind, [3]),
    }
    assert ts.series(["a", "b"], "minute", start=T, end=T + 60) == {
        T: shape(kind, [1, 2]),
        T + 60: shape(kind, [3]),
    }
    assert ts.series(["a", "b"], "hour", start=T, steps=1, condense=True) == {
        T: shape(kind, [1, 2, 3])
    }


@pytest.mark.parametrize("direction", [3, -3])
def test_insert_copies_into_neighbouring_intervals(make_ts: MakeTs, direction: int) -> None:
    ts = make(make_ts, "count")
    ts.insert("a", 2, timestamp=T + 30 + 3600 * 5, intervals=direction)
    base = T + 3600 * 5
    minutes = ts.series("a", "minute", start=base - 240, end=base + 240)
    expected_minutes = {
        base + 60 * k: 2
        for k in range(
            0, direction + 1 if direction > 0 else direction - 1, 1 if direction > 0 else -1
        )
    }
    assert {k: v for k, v in minutes.items() if v} == expected_minutes
    hours = ts.series("a", "hour", start=base - 4 * 3600, end=base + 4 * 3600, condense=True)
    step = 3600 if direction > 0 else -3600
    assert {k: v for k, v in hours.items() if v} == {base + step * k: 2 for k in range(4)}
    # copies land at the start of their interval: resolution is lost
    assert ts.get("a", "hour", timestamp=base + step) == {base + step: 2}


@pytest.mark.parametrize("kind", ["series", "histogram", "set"])
def test_transforms(make_ts: MakeTs, kind: str) -> None:
    ts = make(make_ts, kind)
    ts.insert("a", [1, 2, 3], timestamp=T)
    ts.insert("a", [10], timestamp=T + 60)
    got = ts.get("a", "minute", timestamp=T, transform=["mean", "count", "min", "max", "sum"])
    assert got == {T: {"mean": 2.0, "count": 3, "min": 1, "max": 3, "sum": 6}}
    # Kairos's rate: values per second (3 in 60 s), per value for a histogram
    rate = {1: 1 / 60, 2: 1 / 60, 3: 1 / 60} if kind == "histogram" else 3 / 60
    assert ts.get("a", "minute", timestamp=T, transform="rate") == {T: rate}
    seen: list[Any] = []

    def custom(data: Any, duration: int) -> int:
        seen.append(duration)
        return len(data)

    assert ts.get("a", "minute", timestamp=T, transform={"n": custom}) == {T: {"n": 3}}
    assert ts.series("a", "hour", start=T, steps=1, transform="max") == {T: {T: 3, T + 60: 10}}
    assert ts.series("a", "hour", start=T, steps=1, condense=True, transform=custom) == {T: 4}
    assert ts.series("a", "minute", start=T, end=T + 60, collapse=True, transform=custom) == {T: 4}
    assert seen == [60, 3600, 120]
    assert ts.series("a", "minute", start=T - 60, steps=1, transform="mean") == {T - 60: 0}


def test_count_and_gauge_transforms(make_ts: MakeTs) -> None:
    counts = make(make_ts, "count")
    counts.insert("a", 2.5, timestamp=T)
    counts.insert("a", timestamp=T)
    assert counts.get("a", "minute", timestamp=T) == {T: 3.5}
    assert counts.get("a", "minute", timestamp=T, transform="rate") == {T: 3.5 / 60}
    with pytest.raises(ValidationError, match="does not support the transform 'mean'"):
        counts.get("a", "minute", timestamp=T, transform="mean")
    gauges = make(make_ts, "gauge")
    gauges.insert("g", 0, timestamp=T)
    assert gauges.get("g", "minute", timestamp=T, transform=lambda d, s: d + s) == {T: 60}
    # a real 0 is a value: condense returns it rather than skipping it
    gauges.insert("g", 7, timestamp=T - 3600)
    assert gauges.get("g", "hour", timestamp=T, condense=True) == {T: 0}


def test_custom_reads(make_ts: MakeTs) -> None:
    ts = make(make_ts, "series")
    ts.bulk_insert({T: {"a": [1, 2], "b": [5]}, T + 60: {"a": [3]}})
    assert ts.get("a", "minute", timestamp=T, process_row=lambda raw: len(raw)) == {T: 2}
    assert ts.get("a", "hour", timestamp=T, condense=lambda rows: sorted(rows)) == {T: [T, T + 60]}
    joined = ts.get(
        ["a", "b"], "minute", timestamp=T, join_rows=lambda rows: [len(r or []) for r in rows]
    )
    assert joined == {T: [2, 1]}
    collapsed = ts.series("a", "minute", start=T, end=T + 120, collapse=lambda rows: list(rows))
    assert collapsed == {T: [T, T + 60, T + 120]}


def test_list_properties_iterate_delete(make_ts: MakeTs) -> None:
    ts = make(make_ts, "count")
    assert ts.list() == []
    ts.bulk_insert({T: {"a": [1], "b": [1]}, T + 180: {"a": [2]}})
    assert ts.list() == ["a", "b"]
    assert ts.properties("a") == {
        "minute": {"first": T, "last": T + 180},
        "hour": {"first": T, "last": T},
    }
    assert list(ts.iterate("a", "minute")) == [(T, 1), (T + 60, 0), (T + 120, 0), (T + 180, 2)]
    assert list(ts.iterate("a", "hour")) == [(T, 1), (T + 180, 2)]
    assert list(ts.iterate("a", "hour", condense=True)) == [(T, 3)]
    ts.delete("a")
    assert ts.list() == ["b"]
    assert ts.properties("a")["minute"] == {"first": None, "last": None}
    assert list(ts.iterate("a", "minute")) == []
    ts.delete_all()
    assert ts.list() == []


def test_timestamp_zero_is_a_real_time(make_ts: MakeTs) -> None:
    ts = make(make_ts, "count")
    ts.insert("a", timestamp=0)
    assert ts.get("a", "minute", timestamp=0) == {0: 1}
    assert ts.series("a", "minute", start=0, steps=2) == {0: 1, 60: 0}
    assert ts.properties("a")["minute"] == {"first": 0, "last": 0}


def test_ttl_skips_writes_already_expired(make_ts: MakeTs) -> None:
    now = time.time()
    ts = make(make_ts, "count", intervals={"minute": {"step": 60, "steps": 3}})
    ts.insert("a", timestamp=now - 600)  # its 3 minutes are long gone: not written
    assert ts.list() == []
    ts.insert("a", timestamp=now)
    ts.insert("a", timestamp=now - 60, intervals=-5)  # only the copies still alive land
    minute = int(now // 60) * 60
    assert ts.series("a", "minute") == {minute - 120: 1, minute - 60: 1, minute: 1}
    assert ts.list() == ["a"]


def test_expire_deletes_buckets_past_steps(make_ts: MakeTs, backend: str) -> None:
    now = time.time()
    shared: dict[str, Any] = {}
    if backend == "redis":
        pytest.skip("Redis expires buckets itself with TTLs; expire() is a no-op there")
    keep_all = make(make_ts, "count", intervals={"minute": {"step": 60}}, **shared)
    retain = make_ts(
        type="count",
        intervals={"minute": {"step": 60, "steps": 2}},
        **_same_storage(keep_all),
    )
    keep_all.insert("a", timestamp=now - 3600)
    keep_all.insert("a", timestamp=now)
    assert keep_all.properties("a")["minute"]["first"] is not None
    retain.expire("a")
    minute = int(now // 60) * 60
    assert keep_all.properties("a")["minute"] == {"first": minute, "last": minute}


def _same_storage(ts: Any) -> dict[str, Any]:
    """Backend options that point a second timeseries at the first one's storage."""
    store = ts.store
    if hasattr(store, "table"):
        return {"table_name": store.table.name}
    return {}


def test_unknown_interval_and_bad_config(make_ts: MakeTs) -> None:
    ts = make(make_ts, "count")
    with pytest.raises(UnknownInterval, match="'day'") as info:
        ts.get("a", "day")
    assert isinstance(info.value, NotFound)
    with pytest.raises(UnknownInterval):
        ts.series("a", "day")
    with pytest.raises(ValidationError, match="unsupported time format '5min'"):
        make(make_ts, "count", intervals={"m": {"step": "5min"}})
    with pytest.raises(ValidationError, match="unknown timeseries type"):
        make_ts(type="timer", intervals=INTERVALS)
    with pytest.raises(ValidationError, match="unknown transform 'median'"):
        make(make_ts, "series").get("a", "minute", transform="median")


def test_bad_values_write_nothing(make_ts: MakeTs) -> None:
    ts = make(make_ts, "count")
    with pytest.raises(ValidationError, match="count increments"):
        ts.bulk_insert({T: {"a": [1, 2]}, T + 60: {"b": ["three"]}})
    assert ts.list() == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_refused_before_anything_is_written(
    make_ts: MakeTs, kind: str, bad: float
) -> None:
    ts = make(make_ts, kind)
    with pytest.raises(ValidationError, match="must be finite"):
        ts.insert("a", bad, timestamp=T)
    with pytest.raises(ValidationError, match="must be finite"):
        ts.bulk_insert({T: {"a": [1.5]}, T + 60: {"b": [2.5, bad]}})
    with pytest.raises(ValidationError, match="must be finite"):
        ts.bulk_insert_columns("c", [T, T + 1], [1.5, bad])
    assert ts.list() == []


def test_non_numeric_value_into_numeric_sql_column(make_ts: MakeTs, backend: str) -> None:
    if backend not in ("sqlite", "postgresql", "mariadb"):
        pytest.skip("only SQL columns are typed")
    ts = make(make_ts, "histogram", read_func=float)
    with pytest.raises(ValidationError, match="'abc' does not fit the float column"):
        ts.bulk_insert({T: {"a": [1.5, 2]}, T + 60: {"a": ["abc"]}})
    assert ts.list() == []
    text = make(make_ts, "set", read_func=None, value_type="str", string_length=20)
    text.insert("s", ["x", 3], timestamp=T)
    assert text.get("s", "minute", timestamp=T) == {T: {"x", "3"}}
    with pytest.raises(ValidationError, match="longer"):
        text.insert("s", "y" * 21, timestamp=T)


@pytest.mark.parametrize("step", ["daily", "weekly", "monthly", "yearly"])
def test_gregorian_intervals(make_ts: MakeTs, step: str) -> None:
    from datetime import UTC, datetime

    def utc(*args: int) -> int:
        return int(datetime(*args, tzinfo=UTC).timestamp())

    ts = make(
        make_ts,
        "count",
        intervals={"cal": {"step": step}, "fine": {"step": step, "resolution": "1h"}},
    )
    moment = utc(2024, 3, 13, 15, 30)  # a Wednesday
    ts.insert("a", timestamp=moment)
    ts.insert("a", 2, timestamp=moment + 3600)
    starts = {
        "daily": utc(2024, 3, 13),
        "weekly": utc(2024, 3, 10),
        "monthly": utc(2024, 3, 1),
        "yearly": utc(2024, 1, 1),
    }
    start = starts[step]
    assert ts.get("a", "cal", timestamp=moment) == {start: 3}
    hour = utc(2024, 3, 13, 15)
    assert ts.get("a", "fine", timestamp=moment) == {hour: 1, hour + 3600: 2}
    series = ts.series("a", "cal", end=moment, steps=3)
    assert list(series.values()) == [0, 0, 3]
    assert list(series)[-1] == start
    days = ts.get("a", "cal", timestamp=moment, transform=lambda d, s: s / 86400)
    assert days == {start: {"daily": 1, "weekly": 7, "monthly": 31, "yearly": 366}[step]}


def test_read_and_write_funcs(make_ts: MakeTs, backend: str) -> None:
    typed = {"value_type": "str"} if backend in ("sqlite", "postgresql", "mariadb") else {}
    ts = make_ts(
        **typed,
        type="set",
        intervals=INTERVALS,
        write_func=lambda v: v.upper(),
        read_func=lambda v: f"<{v}>",
    )
    ts.insert("a", ["x", "y"], timestamp=T)
    assert ts.get("a", "minute", timestamp=T) == {T: {"<X>", "<Y>"}}
