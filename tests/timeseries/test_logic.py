"""Pure logic: aggregation of writes, condense/join per type, transforms."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aion.errors import ValidationError
from aion.timeseries.intervals import parse_intervals
from aion.timeseries.kinds import KINDS, parse_kind
from aion.timeseries.protocol import Cell, Kind
from aion.timeseries.transforms import apply_transform, check_transform
from aion.timeseries.writes import normalize_timestamp, plan_writes

INTERVALS = parse_intervals({"minute": {"step": 60}, "hour": {"step": 3600, "resolution": 60}})


def test_timestamp_zero_is_the_epoch() -> None:
    assert normalize_timestamp(0, now=1234.0) == 0
    assert normalize_timestamp(None, now=1234.0) == 1234.0
    with pytest.raises(ValidationError):
        normalize_timestamp("yesterday", now=0)
    with pytest.raises(ValidationError):
        normalize_timestamp(float("nan"), now=0)


def test_plan_aggregates_per_cell() -> None:
    batch = plan_writes(
        {0: {"a": [1, 2, 2]}, 30: {"a": [2]}, 61: {"a": [5]}},
        intervals=INTERVALS,
        ops=KINDS[Kind.HISTOGRAM],
        now=100.0,
    )
    assert batch.cells[Cell("a", "minute", 0)] == {1: 1, 2: 3}
    assert batch.cells[Cell("a", "hour", 0, 0)] == {1: 1, 2: 3}
    assert batch.cells[Cell("a", "hour", 0, 1)] == {5: 1}
    assert batch.expire_at == {}


def test_plan_copies_and_ttl_skip() -> None:
    intervals = parse_intervals({"minute": {"step": 60, "steps": 2}})
    batch = plan_writes(
        {600: {"a": [1]}}, intervals=intervals, ops=KINDS[Kind.COUNT], now=700.0, copies=-3
    )
    # buckets 10, 9, 8, 7; at now=700 (bucket 11) only 10 is still within 2 steps
    assert list(batch.cells) == [Cell("a", "minute", 10)]
    assert batch.expire_at == {("a", "minute", 10): 720}


def test_plan_validates_before_anything() -> None:
    with pytest.raises(ValidationError, match="count increments"):
        plan_writes({0: {"a": [1, "x"]}}, intervals=INTERVALS, ops=KINDS[Kind.COUNT], now=0)
    with pytest.raises(ValidationError, match="hashable"):
        plan_writes({0: {"a": [[1]]}}, intervals=INTERVALS, ops=KINDS[Kind.SET], now=0)
    with pytest.raises(ValidationError, match="names"):
        plan_writes({0: {"": [1]}}, intervals=INTERVALS, ops=KINDS[Kind.SET], now=0)


def test_unknown_type() -> None:
    with pytest.raises(ValidationError, match="unknown timeseries type 'timer'"):
        parse_kind("timer")


@given(st.lists(st.integers(min_value=-100, max_value=100), max_size=30))
def test_histogram_and_series_agree(values: list[int]) -> None:
    hist: Any = None
    for value in values:
        hist = KINDS[Kind.HISTOGRAM].accumulate(hist, value)
    hist = hist or {}
    for name in ("mean", "count", "min", "max", "sum"):
        series_result = apply_transform(Kind.SERIES, values, name, 60)
        hist_result = apply_transform(Kind.HISTOGRAM, hist, name, 60)
        assert series_result == pytest.approx(hist_result)
    # rate: the series' values per second are the histogram's per-value rates added up
    per_value = apply_transform(Kind.HISTOGRAM, hist, "rate", 60)
    assert apply_transform(Kind.SERIES, values, "rate", 60) == pytest.approx(
        sum(per_value.values())
    )


def test_condense_and_join() -> None:
    assert KINDS[Kind.SERIES].condense({0: [1], 60: [2, 3]}) == [1, 2, 3]
    assert KINDS[Kind.HISTOGRAM].join([{1: 2}, None, {1: 1, 2: 1}]) == {1: 3, 2: 1}
    assert KINDS[Kind.COUNT].condense({0: 2, 60: 3}) == 5
    assert KINDS[Kind.SET].join([{1}, None, {2}]) == {1, 2}
    # a real 0 is the last gauge value (Kairos skipped falsy values)
    assert KINDS[Kind.GAUGE].condense({0: 5, 60: 0, 120: None}) == 0


def test_transforms() -> None:
    assert apply_transform(Kind.SERIES, [1, 2, 3], ["mean", "max"], 60) == {"mean": 2.0, "max": 3}
    assert apply_transform(Kind.SERIES, [], "min", 60) == 0
    assert apply_transform(Kind.COUNT, 120, "rate", 60) == 2.0
    # Kairos's rate, worked by hand: how many values per second, not their sum
    assert apply_transform(Kind.SERIES, [5, 5, 20], "rate", 60) == 3 / 60
    assert apply_transform(Kind.SET, {"a", "b"}, "rate", 10) == 0.2
    assert apply_transform(Kind.HISTOGRAM, {"GET": 30, 7: 6}, "rate", 60) == {"GET": 0.5, 7: 0.1}
    assert apply_transform(Kind.SET, {1, 2}, lambda d, s: (len(d), s), 60) == (2, 60)
    assert apply_transform(Kind.GAUGE, 4, {"double": lambda d, s: d * 2}, 60) == {"double": 8}


@pytest.mark.parametrize(
    ("kind", "spec"),
    [(Kind.SERIES, "median"), (Kind.COUNT, "mean"), (Kind.GAUGE, "max"), (Kind.SET, ["mean", 3])],
)
def test_bad_transforms(kind: Kind, spec: Any) -> None:
    with pytest.raises(ValidationError, match="transform"):
        check_transform(kind, spec)
