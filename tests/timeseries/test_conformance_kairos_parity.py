"""Kairos code runs with only its import changed, on every backend (issue 11, item 3).

Kairos's own tests pass ``prefix=`` to every backend, compute ``rate`` as values per second,
and expect names differing only in case or a trailing space to stay apart; Aion's rollups read
numbers back as numbers wherever they are stored. Same backends as the conformance suite.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from aion.timeseries import Advance, read_number
from tests.timeseries.conftest import MakeTs

T = 1_800_000_000  # a whole hour
INTERVALS = {"minute": {"step": 60}, "hour": {"step": "1h", "resolution": 60}}
SQL = ("sqlite", "postgresql", "mariadb")


def test_rate_gives_kairos_numbers(make_ts: MakeTs) -> None:
    # Worked by hand from Kairos's definition: len(data) / seconds for series and set,
    # {value: count / seconds} for a histogram, total / seconds for a count.
    opts: dict[str, Any] = {"intervals": INTERVALS, "read_func": int}
    series = make_ts(type="series", **opts)
    histogram = make_ts(type="histogram", **opts)
    sets = make_ts(type="set", **opts)
    # one name per type: on Redis, types under one prefix share the key space, as in Kairos
    for ts, name in ((series, "s"), (histogram, "h"), (sets, "z")):
        ts.insert(name, [4, 4, 10], timestamp=T)
        ts.insert(name, [7], timestamp=T + 60)
    assert series.get("s", "minute", timestamp=T, transform="rate") == {T: 3 / 60}
    assert sets.get("z", "minute", timestamp=T, transform="rate") == {T: 2 / 60}  # {4, 10}
    assert histogram.get("h", "minute", timestamp=T, transform="rate") == {
        T: {4: 2 / 60, 10: 1 / 60}
    }
    # a fine interval: per resolution row (60 s each), or condensed over the hour
    assert series.get("s", "hour", timestamp=T, transform="rate") == {T: 3 / 60, T + 60: 1 / 60}
    assert series.get("s", "hour", timestamp=T, condense=True, transform="rate") == {T: 4 / 3600}
    # collapse: the whole range, 2 minutes
    collapsed = series.series("s", "minute", start=T, end=T + 60, collapse=True, transform="rate")
    assert collapsed == {T: 4 / 120}
    # Kairos's count test: one insert a second for a minute is a rate of 1.0
    counts = make_ts(type="count", intervals=INTERVALS)
    counts.bulk_insert({T + i: {"hits": [1]} for i in range(60)})
    assert counts.get("hits", "hour", timestamp=T, transform="rate") == {T: 1.0}
    assert counts.get("hits", "minute", timestamp=T, transform="rate") == {T: 1.0}


@pytest.mark.parametrize("kind", ["count", "histogram", "set"])
def test_prefixes_keep_timeseries_apart(make_ts: MakeTs, kind: str) -> None:
    tag = uuid.uuid4().hex[:8]
    opts: dict[str, Any] = {"type": kind, "intervals": INTERVALS}
    if kind != "count":
        opts["read_func"] = int
    first = make_ts(prefix=f"p1{tag}", **opts)
    second = make_ts(prefix=f"p2{tag}", **opts)
    first.insert("a", [1, 2], timestamp=T)
    second.insert("a", 5, timestamp=T)
    second.insert("b", 5, timestamp=T)
    expected = {"count": (3, 5), "histogram": ({1: 1, 2: 1}, {5: 1}), "set": ({1, 2}, {5})}
    assert first.get("a", "minute", timestamp=T) == {T: expected[kind][0]}
    assert second.get("a", "minute", timestamp=T) == {T: expected[kind][1]}
    assert first.list() == ["a"]
    assert second.list() == ["a", "b"]
    # consumer checkpoints are per prefix too: both move from 0
    assert first.bulk_insert_checkpointed({T: {"c": [1]}}, Advance("rule|s|0", 0, 10))
    assert second.bulk_insert_checkpointed({T: {"c": [1]}}, Advance("rule|s|0", 0, 20))
    assert (first.checkpoint("rule|s|0"), second.checkpoint("rule|s|0")) == (10, 20)
    second.delete_all()
    assert second.list() == []
    assert first.list() == ["a", "c"]


def test_case_and_trailing_spaces_keep_names_and_keys_apart(make_ts: MakeTs, backend: str) -> None:
    spellings = ["Hits", "hits", "hits "]
    counts = make_ts(type="count", intervals=INTERVALS)
    for number, name in enumerate(spellings, start=1):
        counts.insert(name, number, timestamp=T)
    assert counts.list() == sorted(spellings)
    assert [counts.get(n, "minute", timestamp=T)[T] for n in spellings] == [1, 2, 3]
    typed = {"value_type": "str"} if backend in SQL else {}
    for kind in ("histogram", "set"):
        keyed = make_ts(type=kind, intervals=INTERVALS, **typed)
        keyed.insert(f"k{kind}", [*spellings, "hits "], timestamp=T)
        expected: Any = (
            {"Hits": 1, "hits": 1, "hits ": 2} if kind == "histogram" else set(spellings)
        )
        assert keyed.get(f"k{kind}", "minute", timestamp=T) == {T: expected}
        assert keyed.get(f"k{kind}", "hour", timestamp=T, condense=True) == {T: expected}


@pytest.mark.parametrize("kind", ["series", "histogram", "set", "gauge"])
def test_numeric_reads_come_back_as_numbers(make_ts: MakeTs, kind: str) -> None:
    # Redis stores text and SQL a float column; read_number reads numbers alike everywhere
    ts = make_ts(type=kind, intervals=INTERVALS, read_func=read_number)
    ts.insert("n", [12, 2.5, 12], timestamp=T)
    data = ts.get("n", "minute", timestamp=T)[T]
    expected: Any = {
        "series": [12, 2.5, 12],
        "histogram": {12: 2, 2.5: 1},
        "set": {12, 2.5},
        "gauge": 12,
    }[kind]
    assert data == expected
    values = [data] if kind == "gauge" else list(data)  # a histogram's values are its keys
    assert {type(v) for v in values if v == 12} == {int}  # 12, never "12" or 12.0
    assert {type(v) for v in values if v == 2.5} == (set() if kind == "gauge" else {float})
    if kind != "gauge":
        mean = ts.get("n", "hour", timestamp=T, condense=True, transform=["mean", "max", "sum"])
        if kind == "set":
            assert mean == {T: {"mean": 7.25, "max": 12, "sum": 14.5}}
        else:
            assert mean == {T: {"mean": 26.5 / 3, "max": 12, "sum": 26.5}}
