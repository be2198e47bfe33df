"""The columnar write path plans exactly what the mapping path plans, and checks as much."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from aion.errors import ValidationError
from aion.timeseries import Timeseries, parse_intervals
from aion.timeseries.columns import plan_columns
from aion.timeseries.kinds import KINDS
from aion.timeseries.protocol import Kind
from aion.timeseries.writes import plan_writes

NOW = 1_800_000_000.0
INTERVALS = parse_intervals(
    {
        "minute": {"step": 60},
        "fine": {"step": 3600, "resolution": 600},
        "kept": {"step": 60, "steps": 100},
        "daily": {"step": "daily"},
        "fine_daily": {"step": "daily", "resolution": "1h"},
    }
)


def _data(kind: Kind, n: int, seed: int) -> tuple[list[Any], list[Any]]:
    rng = random.Random(seed)
    stamps: list[Any] = []
    for _ in range(n):
        t = NOW - rng.randrange(0, 20_000)
        stamps.append(t + rng.choice([0, 0.5, 0.25]) if rng.random() < 0.5 else int(t))
    stamps.sort()  # series order: the mapping path groups equal timestamps together
    if kind is Kind.COUNT:
        values: list[Any] = [rng.choice([1, 2, 0.5]) for _ in range(n)]
    else:
        values = [rng.choice(["a", "b", 3, 4.5]) for _ in range(n)]
    return stamps, values


def _mapping(stamps: list[Any], values: list[Any]) -> dict[Any, dict[str, list[Any]]]:
    out: dict[Any, dict[str, list[Any]]] = {}
    for t, v in zip(stamps, values, strict=True):
        out.setdefault(t, {}).setdefault("x", []).append(v)
    return out


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("seed", [1, 2])
def test_same_batch_as_the_mapping_path(kind: Kind, seed: int) -> None:
    stamps, values = _data(kind, 3000, seed)
    expected = plan_writes(_mapping(stamps, values), intervals=INTERVALS, ops=KINDS[kind], now=NOW)
    got = plan_columns("x", stamps, values, intervals=INTERVALS, ops=KINDS[kind], now=NOW)
    assert dict(got.cells) == dict(expected.cells)
    assert dict(got.expire_at) == dict(expected.expire_at)
    assert got.expire_at  # the retention interval skipped old buckets and set expiries


def test_counts_of_one_and_write_func() -> None:
    stamps = [0, 1, 59, 60, 61.5]
    ops = KINDS[Kind.COUNT]
    ones = plan_columns("x", stamps, None, intervals=INTERVALS, ops=ops, now=NOW)
    mapping = _mapping(stamps, [1] * 5)
    assert dict(ones.cells) == dict(
        plan_writes(mapping, intervals=INTERVALS, ops=ops, now=NOW).cells
    )
    doubled = plan_columns(
        "x", stamps, None, intervals=INTERVALS, ops=ops, now=NOW, write_func=lambda v: v * 2
    )
    assert sum(p for c, p in doubled.cells.items() if c.interval == "minute") == 10


def test_datetimes_and_empty() -> None:
    ops = KINDS[Kind.GAUGE]
    moment = dt.datetime(2027, 1, 15, 8, tzinfo=dt.UTC)
    got = plan_columns("x", [moment], ["v"], intervals=INTERVALS, ops=ops, now=NOW)
    assert {c.i_bucket for c in got.cells if c.interval == "minute"} == {1_800_000_000 // 60}
    assert not plan_columns("x", [], [], intervals=INTERVALS, ops=ops, now=NOW).cells


@pytest.mark.parametrize(
    ("kind", "stamps", "values", "field"),
    [
        (Kind.COUNT, [0, 1], [1, "2"], "value"),
        (Kind.COUNT, [0], [True], "value"),
        (Kind.COUNT, [0, float("nan")], None, "timestamp"),
        (Kind.COUNT, ["soon"], None, "timestamp"),
        (Kind.COUNT, [0, 1], [1], "value"),
        (Kind.HISTOGRAM, [0], [[1]], "value"),
        (Kind.SET, [0], [(1, [2])], "value"),
        (Kind.SERIES, [0], None, "value"),
    ],
)
def test_refusals(kind: Kind, stamps: list[Any], values: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        plan_columns("x", stamps, values, intervals=INTERVALS, ops=KINDS[kind], now=NOW)
    assert caught.value.field == field


def test_timeseries_method_round_trip() -> None:
    ts = Timeseries("memory://", type="histogram", intervals={"minute": {"step": 60}})
    ts.bulk_insert_columns("lat", [0, 1, 61], [5, 5, 7])
    assert ts.get("lat", "minute", timestamp=0) == {0: {5: 2}}
    assert ts.get("lat", "minute", timestamp=60) == {60: {7: 1}}
    with pytest.raises(ValidationError):
        ts.bulk_insert_columns("", [0], [1])


@pytest.mark.parametrize("kind", list(Kind))
def test_mapping_through_columns_matches_the_general_planner(kind: Kind) -> None:
    from aion.timeseries.columns import plan_mapping

    rng = random.Random(5)
    stamps, values = _data(kind, 2000, 3)
    inserts: dict[Any, dict[str, Any]] = {}
    for t, v in zip(stamps, values, strict=True):
        by_name = inserts.setdefault(t, {})
        name = rng.choice(["a", "b", "c"])
        if name == "c":
            by_name[name] = v  # a scalar, not a list
        else:
            by_name.setdefault(name, []).append(v)
    inserts[dt.datetime(2027, 1, 15, 7, 59, tzinfo=dt.UTC)] = {"a": values[:3]}
    ops = KINDS[kind]
    expected = plan_writes(inserts, intervals=INTERVALS, ops=ops, now=NOW)
    got = plan_mapping(inserts, intervals=INTERVALS, ops=ops, now=NOW)
    assert dict(got.cells) == dict(expected.cells)
    assert dict(got.expire_at) == dict(expected.expire_at)
