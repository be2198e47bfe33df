"""Backend-specific behaviour: URL forms, options, Redis keys and TTLs, fetch hooks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aion.errors import ConfigurationError, ValidationError
from aion.timeseries import MemoryDatabase, Timeseries
from tests.support.services import MARIADB_URL, REDIS_URL, require

T = 1_800_000_000
INTERVALS = {"minute": {"step": 60}, "hour": {"step": 3600, "resolution": 60}}


@pytest.fixture
def redis_prefix() -> Iterator[tuple[Any, str]]:
    require("redis")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"aiontest-{uuid.uuid4().hex[:10]}"
    yield client, prefix
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_memory_urls_and_shared_database() -> None:
    a = Timeseries("memory://", type="count", intervals=INTERVALS)
    b = Timeseries("memory://", type="count", intervals=INTERVALS)
    a.insert("x", timestamp=T)
    assert b.list() == []  # each memory:// URL is its own store
    shared = MemoryDatabase()
    c = Timeseries(shared, type="count", intervals=INTERVALS)
    d = Timeseries(shared, type="count", intervals=INTERVALS)
    c.insert("x", timestamp=T)
    assert d.get("x", "minute", timestamp=T) == {T: 1}


def test_unknown_clients_and_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown timeseries URL"):
        Timeseries("ftp://x", type="count", intervals=INTERVALS)
    with pytest.raises(ConfigurationError, match="unsupported timeseries client"):
        Timeseries(object(), type="count", intervals=INTERVALS)
    with pytest.raises(ConfigurationError, match="bad timeseries backend option"):
        Timeseries(f"sqlite:///{tmp_path}/x.db", type="count", intervals=INTERVALS, prefx="x")
    with pytest.raises(ConfigurationError, match="no SQL driver"):
        Timeseries("postgresql+nosuchdriver://x/y", type="count", intervals=INTERVALS)


@pytest.mark.service
def test_url_forms(tmp_path: Path, postgres_url: str) -> None:
    require("redis")
    require("mariadb")
    table = f"ts_{uuid.uuid4().hex[:8]}"
    urls = [
        (f"sqlite:///{tmp_path / 'a.db'}", {}),
        (postgres_url.replace("postgresql://", "postgresql+psycopg://"), {"table_name": table}),
        (MARIADB_URL, {"table_name": table}),
        (REDIS_URL, {"prefix": f"aiontest-{table}"}),
    ]
    for url, options in urls:
        with Timeseries(url, type="gauge", intervals=INTERVALS, **options) as ts:
            ts.insert("g", "7", timestamp=T)
            assert ts.get("g", "minute", timestamp=T, transform=lambda d, s: float(d)) == {T: 7.0}
            ts.delete_all()
            table_obj = getattr(ts.store, "table", None)
            if table_obj is not None and options:
                table_obj.drop(ts.store.engine)  # type: ignore[attr-defined]


@pytest.mark.service
def test_redis_layout_ttl_and_registry(redis_prefix: tuple[Any, str]) -> None:
    client, prefix = redis_prefix
    now = time.time()
    ts = Timeseries(
        client,
        type="histogram",
        prefix=prefix,
        intervals={"minute": {"step": 60, "steps": 5}, "hour": {"step": 3600, "resolution": 60}},
    )
    ts.insert("stat", 3, timestamp=now)
    i_minute = int(now // 60)
    key = f"{prefix}:stat:minute:{i_minute}"
    assert client.hgetall(key) == {b"3": b"1"}
    assert 0 < client.ttl(key) <= 5 * 60
    hour_key = f"{prefix}:stat:hour:{int(now // 3600)}"
    assert client.smembers(hour_key) == {str(i_minute).encode()}
    assert client.ttl(hour_key) == -1  # no steps, no TTL
    assert client.zscore(f"{prefix}:::names", "stat") == float("inf")
    assert ts.list() == ["stat"]
    # another prefix is another namespace
    other = Timeseries(client, type="histogram", prefix=prefix + "-b", intervals=INTERVALS)
    assert other.list() == []


@pytest.mark.service
def test_redis_refuses_colons_and_odd_values(redis_prefix: tuple[Any, str]) -> None:
    client, prefix = redis_prefix
    ts = Timeseries(client, type="set", prefix=prefix, intervals=INTERVALS)
    with pytest.raises(ValidationError, match="may not contain ':'"):
        ts.insert("a:b", 1)
    with pytest.raises(ValidationError, match="may not contain ':'"):
        Timeseries(client, type="set", prefix=prefix, intervals={"a:b": {"step": 60}})
    with pytest.raises(ValidationError, match="not tuple"):
        ts.insert("a", [1, (1, 2)])
    assert ts.list() == []


@pytest.mark.service
def test_redis_caller_pipeline_and_fetch(redis_prefix: tuple[Any, str]) -> None:
    client, prefix = redis_prefix
    ts = Timeseries(client, type="series", prefix=prefix, intervals=INTERVALS, read_func=int)
    pipe = client.pipeline(transaction=False)
    ts.insert("a", [1, 2, 3], timestamp=T, pipeline=pipe)
    assert ts.get("a", "minute", timestamp=T) == {T: []}  # not executed yet
    pipe.execute()
    assert ts.get("a", "minute", timestamp=T) == {T: [1, 2, 3]}
    got = ts.get(
        "a", "minute", timestamp=T, fetch=lambda h, key: h.llen(key), process_row=lambda n: n
    )
    assert got == {T: 3}


def test_memory_fetch() -> None:
    ts = Timeseries("memory://", type="count", intervals=INTERVALS)
    ts.insert("a", 4, timestamp=T)

    def fetch(cells: dict[Any, Any], name: str, interval: str, buckets: list[int]) -> Any:
        return {b: {r: v * 10 for (i, r), v in cells.items() if i == b} for b in buckets}

    assert ts.get("a", "minute", timestamp=T, fetch=fetch) == {T: 40}


def test_sql_fetch_and_value_types(tmp_path: Path) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'f.db'}")
    ts = Timeseries(engine, type="histogram", intervals=INTERVALS, value_type=int, table_name="h")
    ts.insert("a", [1, 1, 2.0], timestamp=T)
    assert ts.get("a", "minute", timestamp=T) == {T: {1: 2, 2: 1}}
    with pytest.raises(ValidationError, match="does not fit the int column"):
        ts.insert("a", 1.5, timestamp=T)

    def fetch(conn: Any, table: Any, name: str, interval: str, first: int, last: int) -> Any:
        rows = conn.execute(
            sa.select(table.c.i_time, sa.func.sum(table.c["count"]))
            .where(table.c.name == name, table.c.interval == interval)
            .where(table.c.i_time.between(first, last))
            .group_by(table.c.i_time)
        )
        return {i: {None: {"total": int(total)}} for i, total in rows}

    assert ts.get("a", "minute", timestamp=T, fetch=fetch) == {T: {"total": 3}}
    with pytest.raises(ValidationError, match="unsupported SQL value_type"):
        Timeseries(engine, type="gauge", intervals=INTERVALS, value_type="complex")
    engine.dispose()
