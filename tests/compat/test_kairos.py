"""Kairos code runs with only its import changed."""

from __future__ import annotations

import calendar
import time
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


def test_time_classes_import_where_kairos_had_them() -> None:
    from aion.compat import kairos
    from aion.compat.kairos import GregorianTime, RelativeTime, exceptions, timeseries

    assert timeseries.RelativeTime is RelativeTime
    assert timeseries.GregorianTime is GregorianTime
    assert timeseries.Timeseries is kairos.Timeseries
    assert exceptions.UnknownInterval is UnknownInterval
    assert exceptions.KairosException is KairosException
    assert timeseries.SIMPLE_TIMES["m"] == 30 * 86400
    assert {"daily", "weekly", "monthly", "yearly"} == timeseries.GREGORIAN_TIMES


def test_relative_time_is_kairos_bucket_math() -> None:
    from aion.compat.kairos.timeseries import RelativeTime

    minute = RelativeTime(60)
    assert minute.to_bucket(T + 59) == T // 60
    assert minute.to_bucket(T, steps=-2) == T // 60 - 2
    assert minute.from_bucket(T // 60 + 1) == T + 60
    assert minute.normalize(T + 130, steps=1) == T + 180
    assert minute.buckets(T, T + 150) == [T // 60, T // 60 + 1, T // 60 + 2]
    assert minute.step_size() == 60
    assert minute.step_size(T, T + 30) == 60  # one bucket
    assert minute.step_size(T, T + 150) == 180  # start of the first to end of the last
    assert minute.ttl(5) == 300
    assert minute.ttl(None) is None
    now = time.time()
    assert minute.ttl(5, relative_time=now) == 300
    assert minute.ttl(5, relative_time=now - 3600) == 0  # long past its 5 minutes
    with pytest.raises(ValueError):
        RelativeTime(0)


def test_gregorian_time_is_kairos_bucket_math_in_utc() -> None:
    from datetime import datetime

    from aion.compat.kairos.timeseries import GregorianTime

    def utc(*args: int) -> int:
        return calendar.timegm(datetime(*args).timetuple())

    feb = utc(2024, 2, 10, 15)
    daily, monthly = GregorianTime("daily"), GregorianTime("monthly")
    assert daily.to_bucket(feb) == 20240210
    assert daily.to_bucket(feb, steps=20) == 20240301  # 2024 is a leap year
    assert monthly.to_bucket(feb, steps=-2) == 202312
    assert GregorianTime("weekly").to_bucket(utc(2024, 3, 13)) == 202410
    assert GregorianTime("yearly").from_bucket(2024) == utc(2024, 1, 1)
    assert monthly.from_bucket(202402, native=True) == datetime(2024, 2, 1)
    assert daily.normalize(feb) == utc(2024, 2, 10)
    assert monthly.buckets(feb, utc(2024, 4, 1)) == [202402, 202403, 202404]
    assert monthly.step_size(feb) == 29 * 86400
    assert monthly.step_size(feb, utc(2024, 3, 5)) == 60 * 86400  # February and March
    assert daily.ttl(3) == 3 * 86400
    assert monthly.ttl(2) == 60 * 86400  # Kairos's 30-day months
    assert daily.ttl(3, relative_time=time.time()) == 3 * 86400
    assert daily.ttl(3, relative_time=time.time() - 10 * 86400) == 0
    with pytest.raises(ValueError):
        GregorianTime("hourly")
