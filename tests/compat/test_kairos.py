"""Kairos code runs with only its import changed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from aion.compat.kairos import KairosException, Timeseries, UnknownInterval, UnsupportedType
from tests.support.services import REDIS_URL, require

T = 1_800_000_000


def test_readme_sql_example() -> None:
    from sqlalchemy import create_engine

    client = create_engine("sqlite:///:memory:")
    t = Timeseries(
        client,
        type="histogram",
        read_func=int,
        intervals={"minute": {"step": 60, "steps": 120}},
    )
    t.insert("example", 3.14159)
    t.insert("example", 2.71828)
    (row,) = t.get("example", "minute").values()
    assert row == {3: 1, 2: 1}
    client.dispose()


@pytest.mark.service
def test_readme_redis_example() -> None:
    require("redis")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"aiontest-{uuid.uuid4().hex[:8]}"
    t = Timeseries(
        client,
        type="histogram",
        read_func=float,
        prefix=prefix,
        intervals={"minute": {"step": 60, "steps": 120}},
    )
    t.insert("example", 3.14159)
    t.insert("example", 2.71828)
    (row,) = t.get("example", "minute").values()
    assert row == {3.14159: 1, 2.71828: 1}
    t.delete_all()
    client.close()


def test_kairos_signatures_and_errors() -> None:
    t = Timeseries(
        "memory://",
        type="count",
        intervals={"daily": {"step": "daily", "resolution": "1h"}, "minute": {"step": 60}},
    )
    t.insert("hits", timestamp=T, intervals=1)
    t.bulk_insert({T: {"hits": [2]}, None: {"other": [1]}})
    assert t.get("hits", "minute", timestamp=T, condensed=True) == {T: 3}
    series: Any = t.series("hits", "daily", end=T, steps=2, condense=True, transform="rate")
    assert list(series.values())[-1] == 3 / 86400
    assert t.list() == ["hits", "other"]
    with pytest.raises(UnknownInterval):
        t.get("hits", "weekly")
    with pytest.raises(NotImplementedError):
        Timeseries("memory://", type="timer", intervals={"m": {"step": 60}})
    with pytest.raises(UnsupportedType):
        Timeseries("memory://", type="timer", intervals={"m": {"step": 60}})
    with pytest.raises(ValueError, match="unsupported time format"):
        Timeseries("memory://", type="count", intervals={"m": {"step": "1x"}})
    assert issubclass(UnknownInterval, KairosException)
