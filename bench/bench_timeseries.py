"""Timeseries benchmark: bulk_insert throughput and series() latency.

Measured in one run, beside raw-driver ceilings doing the same job:

* ``bulk_insert_columns`` (and the mapping ``bulk_insert``) of N values (1,000,000; 100,000
  with ``--quick`` or ``AION_BENCH_QUICK=1``) into a count and a histogram timeseries with two
  intervals (minute, hour), on Redis and on PostgreSQL, in values/s. Ceilings: a hand-written
  raw redis-py pipeline and a raw psycopg ``executemany`` of upserts, aggregating per bucket
  first, in a plain loop (``Counter`` per value) and in C (``Counter`` over ``map``/``zip``,
  the fastest aggregation Python offers); Redis also gets the naive one-command-per-value
  pipeline.
* ``series()`` over one year of hourly buckets (8,760) with a ``mean`` transform, on memory,
  Redis, SQLite, PostgreSQL and MariaDB: p50 latency in ms.

Run: ``python -m bench.bench_timeseries [--quick]``.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import repeat
from operator import truediv
from typing import Any

from aion.timeseries import Timeseries

T0 = 1_700_006_400  # a whole day, UTC
INTERVALS = {"minute": {"step": 60}, "hour": {"step": 3600}}
PG_URL = os.environ.get("AION_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("AION_TEST_REDIS", "redis://127.0.0.1:6379/0")
MARIADB_URL = os.environ.get("AION_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")
CHUNK = 100_000


def _quick() -> bool:
    return "--quick" in sys.argv or os.environ.get("AION_BENCH_QUICK") == "1"


def _row(
    name: str, value: float, unit: str, reference: str = "", ref: float | None = None
) -> dict[str, Any]:
    ratio = None
    if ref:
        # values/s: higher is better; latency: lower is better, so invert.
        ratio = value / ref if unit == "values/s" else ref / value
    row = {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "reference": reference,
        "reference_value": None if ref is None else round(ref, 3),
        "ratio": None if ratio is None else round(ratio, 3),
    }
    print(row, flush=True)
    return row


def _workload(n: int) -> list[tuple[float, int]]:
    rng = random.Random(42)
    spread = 86_400 / n  # one day of data, 1440 minute and 24 hour buckets
    return [(T0 + i * spread, rng.randrange(100)) for i in range(n)]


def _chunks(data: list[tuple[float, int]]) -> Iterator[list[tuple[float, int]]]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def _timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _columns(data: list[tuple[float, int]]) -> list[tuple[list[float], list[int]]]:
    """The workload as parallel columns per chunk (built outside the timers, like ``data``)."""
    return [([t for t, _ in chunk], [v for _, v in chunk]) for chunk in _chunks(data)]


def _aion_columns(ts: Timeseries, kind: str, columns: list[tuple[list[float], list[int]]]) -> None:
    for stamps, values in columns:
        ts.bulk_insert_columns("bench", stamps, None if kind == "count" else values)


def _aggregate_c(
    kind: str, stamps: list[float], values: list[int]
) -> Counter[tuple[str, int, int]]:
    """The same totals as :func:`_aggregate`, with the per-value work in C."""
    totals: Counter[tuple[str, int, int]] = Counter()
    for interval, step in (("minute", 60), ("hour", 3600)):
        buckets = map(math.floor, map(truediv, stamps, repeat(step)))
        if kind == "count":
            for bucket, total in Counter(buckets).items():
                totals[interval, bucket, 0] = total
        else:
            for (bucket, value), total in Counter(zip(buckets, values, strict=True)).items():
                totals[interval, bucket, value] = total
    return totals


def _aion_insert(ts: Timeseries, kind: str, data: list[tuple[float, int]]) -> None:
    for chunk in _chunks(data):
        if kind == "count":
            ts.bulk_insert({t: {"bench": [1]} for t, _ in chunk})
        else:
            ts.bulk_insert({t: {"bench": [v]} for t, v in chunk})


def _aggregate(kind: str, chunk: list[tuple[float, int]]) -> Counter[tuple[str, int, int]]:
    """What a careful caller computes by hand: per (interval, bucket, value) totals."""
    totals: Counter[tuple[str, int, int]] = Counter()
    for t, v in chunk:
        value = 0 if kind == "count" else v
        totals["minute", int(t // 60), value] += 1
        totals["hour", int(t // 3600), value] += 1
    return totals


# -- Redis ---------------------------------------------------------------------------------


def bench_redis_insert(n: int) -> list[dict[str, Any]]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    data = _workload(n)
    columns = _columns(data)
    rows: list[dict[str, Any]] = []
    prefix = f"aionbench-{uuid.uuid4().hex[:8]}"
    try:
        for kind in ("count", "histogram"):

            def raw_aggregated(kind: str = kind) -> None:
                pipe = client.pipeline(transaction=False)
                for chunk in _chunks(data):
                    for (interval, bucket, value), total in _aggregate(kind, chunk).items():
                        key = f"{prefix}:raw{kind}:{interval}:{bucket}"
                        if kind == "count":
                            pipe.incrbyfloat(key, total)
                        else:
                            pipe.hincrby(key, value, total)
                    pipe.execute()

            def raw_per_value(kind: str = kind) -> None:
                pipe = client.pipeline(transaction=False)
                for chunk in _chunks(data):
                    for t, v in chunk:
                        for interval, step in (("minute", 60), ("hour", 3600)):
                            key = f"{prefix}:naive{kind}:{interval}:{int(t // step)}"
                            if kind == "count":
                                pipe.incrby(key, 1)
                            else:
                                pipe.hincrby(key, v, 1)
                        if len(pipe) >= 10_000:
                            pipe.execute()
                    pipe.execute()

            def raw_c_aggregated(kind: str = kind) -> None:
                pipe = client.pipeline(transaction=False)
                for stamps, values in columns:
                    for (interval, bucket, value), total in _aggregate_c(
                        kind, stamps, values
                    ).items():
                        key = f"{prefix}:rawc{kind}:{interval}:{bucket}"
                        if kind == "count":
                            pipe.incrbyfloat(key, total)
                        else:
                            pipe.hincrby(key, value, total)
                    pipe.execute()

            ts = Timeseries(client, type=kind, intervals=INTERVALS, prefix=f"{prefix}-{kind}")
            mapped = Timeseries(client, type=kind, intervals=INTERVALS, prefix=f"{prefix}-m{kind}")
            ceiling = n / _timed(raw_aggregated)
            ceiling_c = n / _timed(raw_c_aggregated)
            naive = n / _timed(raw_per_value)
            ours = n / _timed(lambda ts=ts, kind=kind: _aion_columns(ts, kind, columns))
            ours_mapping = n / _timed(lambda ts=mapped, kind=kind: _aion_insert(ts, kind, data))
            rows.append(
                _row(
                    f"redis bulk_insert_columns {kind}",
                    ours,
                    "values/s",
                    "raw redis-py pipeline, hand-aggregated (plain loop)",
                    ceiling,
                )
            )
            rows.append(
                _row(
                    f"redis bulk_insert_columns {kind} vs C-aggregated",
                    ours,
                    "values/s",
                    "raw redis-py pipeline, hand-aggregated in C (Counter over map/zip)",
                    ceiling_c,
                )
            )
            rows.append(
                _row(
                    f"redis bulk_insert {kind} (mapping)",
                    ours_mapping,
                    "values/s",
                    "raw redis-py pipeline, hand-aggregated (plain loop)",
                    ceiling,
                )
            )
            rows.append(
                _row(
                    f"redis bulk_insert_columns {kind} vs naive",
                    ours,
                    "values/s",
                    "raw redis-py pipeline, one command per value",
                    naive,
                )
            )
            mapped.delete_all()
            ts.delete_all()
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()
    return rows


# -- PostgreSQL ----------------------------------------------------------------------------


@contextmanager
def _pg_database() -> Iterator[str]:
    import psycopg

    name = f"aion_bench_{os.getpid()}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_pg_insert(n: int, url: str) -> list[dict[str, Any]]:
    import psycopg

    data = _workload(n)
    columns = _columns(data)
    rows: list[dict[str, Any]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE raw_hist (name varchar(255), interval varchar(64), i_time bigint,"
            " r_time bigint, value double precision, count bigint,"
            " PRIMARY KEY (name, interval, i_time, r_time, value))"
        )
        conn.execute(
            "CREATE TABLE raw_count (name varchar(255), interval varchar(64), i_time bigint,"
            " r_time bigint, value double precision,"
            " PRIMARY KEY (name, interval, i_time, r_time))"
        )
    hist_sql = (
        "INSERT INTO raw_hist VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name, interval,"
        " i_time, r_time, value) DO UPDATE SET count = raw_hist.count + excluded.count"
    )
    count_sql = (
        "INSERT INTO raw_count VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name, interval,"
        " i_time, r_time) DO UPDATE SET value = raw_count.value + excluded.value"
    )
    for kind in ("count", "histogram"):

        def raw(kind: str = kind) -> None:
            with psycopg.connect(url) as conn, conn.cursor() as cur:
                for chunk in _chunks(data):
                    totals = _aggregate(kind, chunk)
                    if kind == "count":
                        params: list[tuple[Any, ...]] = [
                            ("bench", i, b, b, float(c)) for (i, b, _), c in totals.items()
                        ]
                        cur.executemany(count_sql, params)
                    else:
                        params = [
                            ("bench", i, b, b, float(v), c) for (i, b, v), c in totals.items()
                        ]
                        cur.executemany(hist_sql, params)
                    conn.commit()

        def raw_c(kind: str = kind) -> None:
            with psycopg.connect(url) as conn, conn.cursor() as cur:
                for stamps, values in columns:
                    totals = _aggregate_c(kind, stamps, values)
                    if kind == "count":
                        params: list[tuple[Any, ...]] = [
                            ("bench", i, b, b, float(c)) for (i, b, _), c in totals.items()
                        ]
                        cur.executemany(count_sql, params)
                    else:
                        params = [
                            ("bench", i, b, b, float(v), c) for (i, b, v), c in totals.items()
                        ]
                        cur.executemany(hist_sql, params)
                    conn.commit()

        sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        ts = Timeseries(sa_url, type=kind, intervals=INTERVALS)
        mapped = Timeseries(sa_url, type=kind, intervals=INTERVALS, table_name=f"mapped_{kind}")
        ceiling = n / _timed(raw)
        ceiling_c = n / _timed(raw_c)
        ours = n / _timed(lambda ts=ts, kind=kind: _aion_columns(ts, kind, columns))
        ours_mapping = n / _timed(lambda ts=mapped, kind=kind: _aion_insert(ts, kind, data))
        reference = "raw psycopg executemany upserts, hand-aggregated"
        rows.append(
            _row(
                f"postgresql bulk_insert_columns {kind}",
                ours,
                "values/s",
                f"{reference} (plain loop)",
                ceiling,
            )
        )
        rows.append(
            _row(
                f"postgresql bulk_insert_columns {kind} vs C-aggregated",
                ours,
                "values/s",
                f"{reference} in C (Counter over map/zip)",
                ceiling_c,
            )
        )
        rows.append(
            _row(
                f"postgresql bulk_insert {kind} (mapping)",
                ours_mapping,
                "values/s",
                f"{reference} (plain loop)",
                ceiling,
            )
        )
        mapped.close()
        ts.close()
    return rows


# -- series() latency ----------------------------------------------------------------------


def bench_series(pg_url: str, repeats: int) -> list[dict[str, Any]]:
    import redis
    import sqlalchemy as sa

    year = 365 * 24
    rng = random.Random(7)
    inserts = {
        T0 + h * 3600 + 5: {"lat": [rng.randrange(100) for _ in range(5)]} for h in range(year)
    }
    rows: list[dict[str, Any]] = []
    tmp = tempfile.mkdtemp(prefix="aion-bench-")
    prefix = f"aionbench-{uuid.uuid4().hex[:8]}"
    table = f"bench_{uuid.uuid4().hex[:8]}"
    redis_client = redis.Redis.from_url(REDIS_URL)
    maria = sa.create_engine(MARIADB_URL)
    targets: list[tuple[str, Any, dict[str, Any]]] = [
        ("memory", "memory://", {}),
        ("redis", redis_client, {"prefix": prefix}),
        ("sqlite", f"sqlite:///{tmp}/bench.db", {}),
        ("postgresql", pg_url.replace("postgresql://", "postgresql+psycopg://", 1), {}),
        ("mariadb", maria, {"table_name": table}),
    ]
    for backend, client, options in targets:
        ts = Timeseries(
            client, type="histogram", intervals={"hour": {"step": 3600}}, read_func=int, **options
        )
        ts.bulk_insert(inserts)
        end = T0 + (year - 1) * 3600
        timings = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = ts.series("lat", "hour", start=T0, end=end, transform="mean")
            timings.append(time.perf_counter() - start)
        assert len(result) == year
        rows.append(
            _row(f"{backend} series 1y hourly + mean p50", statistics.median(timings) * 1000, "ms")
        )
        ts.delete_all()
        if backend == "mariadb":
            ts.store.table.drop(maria)  # type: ignore[attr-defined]
        ts.close()
    redis_client.close()
    maria.dispose()
    return rows


def main() -> list[dict[str, Any]]:
    """Run every timeseries measurement and return the result rows."""
    n = 100_000 if _quick() else 1_000_000
    rows = bench_redis_insert(n)
    with _pg_database() as pg_url:
        rows += bench_pg_insert(n, pg_url)
        rows += bench_series(pg_url, repeats=5 if _quick() else 20)
    return rows


if __name__ == "__main__":
    main()
