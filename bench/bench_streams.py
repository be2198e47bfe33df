"""StreamLog throughput and latency per backend, beside the raw driver in the same run.

Append: ~200 B records in batches of 500, 4 concurrent appenders. Consume: every shard read
from TRIM_HORIZON with ``limit=1000``. Raw append ceilings: sqlite3 ``executemany`` and psycopg
COPY of the very rows the backend writes into a table with the same schema and indexes, redis-py
XADD pipelines, nats-py async publish with acks. Raw consume ceilings: the same driver reading
the records the backend just wrote (SQL ``SELECT … ORDER BY seq LIMIT 1000``, ``XRANGE COUNT
1000``, a JetStream pull consumer fetching 1000). Latency: records offered at 10,000/s (a batch
every 10 ms, on a fixed schedule), read by a long-polling reader, append→read.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import struct
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from aion.core.time import kronos_time_now
from aion.storage.schema import EVENTS_TABLE, RECORD_KIND, STREAMS_TABLE
from aion.streams.backends.sql_common import encode_records
from aion.streams.protocol import TRIM_HORIZON, AppendRecord, StreamLog, shard_of
from aion.streams.registry import open_stream_log
from bench.report import QUICK, row

N = 10_000 if QUICK else 100_000
BATCH = 500
SHARDS = 4
APPENDERS = 4
RATE = 10_000
RATE_SECONDS = 1.0 if QUICK else 5.0
PAYLOAD = os.urandom(192)
_SELECT = (
    f"SELECT seq, partition_key, payload, time, kind FROM {EVENTS_TABLE} "
    "WHERE stream_id = {p} AND shard = {p} AND seq > {p} ORDER BY seq LIMIT 1000"
)


def _records(n: int) -> list[AppendRecord]:
    return [AppendRecord(f"user-{i % 1000}", PAYLOAD + struct.pack(">q", i)) for i in range(n)]


def _sql_rows(n: int) -> list[tuple[Any, ...]]:
    """The rows the SQL StreamLogs write for ``_records(n)``: same keys, payloads, shards."""
    records = _records(n)
    seqs = dict.fromkeys(range(SHARDS), 0)
    out = []
    for i in range(0, n, BATCH):
        # One arrival time per batch, as the backend stamps them (keys grow batch by batch).
        batch = records[i : i + BATCH]
        rows = encode_records(batch, kronos_time_now() + i)
        for record, (k, t, pk, payload) in zip(batch, rows, strict=True):
            shard = shard_of(record, SHARDS)
            seqs[shard] += 1
            out.append((1, k, t, shard, seqs[shard], pk, payload, RECORD_KIND))
    return out


async def _append_rate(log: StreamLog, ns: str, records: list[AppendRecord]) -> float:
    batches = [records[i : i + BATCH] for i in range(0, len(records), BATCH)]
    queue: asyncio.Queue[list[AppendRecord]] = asyncio.Queue()
    for b in batches:
        queue.put_nowait(b)

    async def appender() -> None:
        while not queue.empty():
            await log.append(ns, "bench", queue.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(appender() for _ in range(APPENDERS)))
    return len(records) / (time.perf_counter() - started)


async def _consume_rate(log: StreamLog, ns: str, expected: int) -> float:
    started = time.perf_counter()
    total = 0
    for shard in range(SHARDS):
        position = TRIM_HORIZON
        while True:
            result = await log.read(ns, "bench", shard, position, limit=1000)
            if not result.records:
                break
            total += len(result.records)
            position = result.next_position
    assert total == expected, (total, expected)
    return total / (time.perf_counter() - started)


async def _latency(log: StreamLog, ns: str) -> tuple[float, list[float]]:
    """Achieved rate and the p50 / p99 / p99.9 append→read latencies in milliseconds."""
    await log.create_stream(ns, "lat", shards=1)
    latencies: list[float] = []
    sent_at: dict[int, float] = {}
    per_tick = RATE // 100
    ticks = int(RATE_SECONDS * 100)
    done = asyncio.Event()

    async def reader() -> None:
        position = (await log.read(ns, "lat", 0, TRIM_HORIZON)).next_position
        while len(latencies) < per_tick * ticks:
            result = await log.read(ns, "lat", 0, position, limit=5000, wait_seconds=1.0)
            now = time.perf_counter()
            latencies.extend(
                now - sent_at[struct.unpack(">q", r.data[-8:])[0]] for r in result.records
            )
            position = result.next_position
        done.set()

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.05)
    start = time.perf_counter()
    for tick in range(ticks):
        # Offer the load on a fixed schedule (no coordinated omission: late ticks catch up).
        delay = start + tick / 100 - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        batch = []
        for j in range(per_tick):
            i = tick * per_tick + j
            sent_at[i] = start + tick / 100
            batch.append(AppendRecord(f"k{i % 100}", PAYLOAD + struct.pack(">q", i)))
        await log.append(ns, "lat", batch)
    await asyncio.wait_for(done.wait(), 30)
    await task
    achieved = len(latencies) / (time.perf_counter() - start)
    latencies.sort()
    return achieved, [latencies[int(len(latencies) * p) - 1] * 1000 for p in (0.5, 0.99, 0.999)]


def raw_sqlite(n: int) -> float:
    """sqlite3 ``executemany`` of the backend's rows into the same schema (indexes and all)."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(f"{tmp}/raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        from aion.storage.schema import SQLITE_DDL

        conn.executescript(SQLITE_DDL)
        rows = _sql_rows(n)
        started = time.perf_counter()
        for i in range(0, n, BATCH):
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO aion_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows[i : i + BATCH]
            )
            conn.execute("COMMIT")
        rate = n / (time.perf_counter() - started)
        conn.close()
    return rate


def raw_sqlite_consume(path: str, ns: str) -> float:
    """sqlite3 reading every shard of the backend's stream, 1000 rows a query."""
    conn = sqlite3.connect(path)
    (sid,) = conn.execute(
        f"SELECT id FROM {STREAMS_TABLE} WHERE namespace = ? AND name = 'bench'", (ns,)
    ).fetchone()
    sql = _SELECT.format(p="?")
    started = time.perf_counter()
    total = _raw_sql_loop(lambda shard, bound: conn.execute(sql, (sid, shard, bound)).fetchall())
    rate = total / (time.perf_counter() - started)
    conn.close()
    return rate


def _raw_sql_loop(fetch: Callable[[int, int], list[Any]]) -> int:
    total = 0
    for shard in range(SHARDS):
        bound = 0
        while rows := fetch(shard, bound):
            total += len(rows)
            bound = rows[-1][0]
    return total


def raw_redis(url: str, n: int) -> float:
    import redis

    client = redis.Redis.from_url(url)
    key = f"aionbench:{uuid.uuid4().hex}"
    started = time.perf_counter()
    for i in range(0, n, BATCH):
        pipe = client.pipeline(transaction=True)
        for j in range(i, min(n, i + BATCH)):
            pipe.xadd(key, {b"k": f"user-{j % 1000}".encode(), b"d": PAYLOAD})
        pipe.execute()
    rate = n / (time.perf_counter() - started)
    client.delete(key)
    client.close()
    return rate


def raw_redis_consume(url: str, prefix: str, ns: str) -> float:
    """redis-py ``XRANGE … COUNT 1000`` over the backend's shard keys."""
    import redis

    client = redis.Redis.from_url(url)
    started = time.perf_counter()
    total = 0
    for shard in range(SHARDS):
        key, start = f"{prefix}x:{ns}:bench:{shard}", "-"
        while entries := client.xrange(key, min=start, count=1000):
            total += len(entries)
            start = "(" + entries[-1][0].decode()
    rate = total / (time.perf_counter() - started)
    client.close()
    return rate


async def raw_nats(url: str, n: int) -> float:
    import nats
    from nats.js import api

    nc = await nats.connect(url)
    js = nc.jetstream()
    name = f"AIONBENCH_{uuid.uuid4().hex[:8]}"
    await js.add_stream(api.StreamConfig(name=name, subjects=[f"{name}.*"]))
    started = time.perf_counter()
    for i in range(0, n, BATCH):
        futures = [
            await js.publish_async(f"{name}.0", PAYLOAD) for _ in range(i, min(n, i + BATCH))
        ]
        await asyncio.gather(*futures)
    rate = n / (time.perf_counter() - started)
    await js.delete_stream(name)
    await nc.close()
    return rate


async def raw_nats_consume(url: str, name: str) -> float:
    """nats-py pull consumers (one per shard subject, no acks) fetching 1000 at a time."""
    import nats
    import nats.errors
    from nats.js import api

    nc = await nats.connect(url)
    js = nc.jetstream()
    started = time.perf_counter()
    total = 0
    for shard in range(SHARDS):
        config = api.ConsumerConfig(ack_policy=api.AckPolicy.NONE, mem_storage=True)
        sub = await js.pull_subscribe(f"{name}.{shard}", stream=name, config=config)
        while True:
            try:
                got = await sub.fetch(1000, timeout=0.05)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            total += len(got)
        await sub.unsubscribe()
    rate = total / (time.perf_counter() - started)
    await nc.close()
    return rate


def raw_postgres(url: str, n: int) -> float:
    """psycopg COPY of the backend's rows into a real table with aion_events' indexes."""
    import psycopg

    table = f"aion_bench_{uuid.uuid4().hex[:8]}"
    rows = _sql_rows(n)
    with psycopg.connect(url) as conn:
        conn.execute(f"CREATE TABLE {table} (LIKE {EVENTS_TABLE} INCLUDING ALL)")
        conn.commit()
        try:
            started = time.perf_counter()
            for i in range(0, n, BATCH):
                with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                    for r in rows[i : i + BATCH]:
                        copy.write_row(r)
                conn.commit()
            return n / (time.perf_counter() - started)
        finally:
            conn.rollback()
            conn.execute(f"DROP TABLE {table}")
            conn.commit()


def raw_postgres_consume(url: str, ns: str) -> float:
    """psycopg reading every shard of the backend's stream, 1000 rows a query."""
    import psycopg

    with psycopg.connect(url) as conn:
        cur = conn.execute(
            f"SELECT id FROM {STREAMS_TABLE} WHERE namespace = %s AND name = 'bench'", (ns,)
        )
        (sid,) = cur.fetchone() or (0,)
        sql = _SELECT.format(p="%s")
        started = time.perf_counter()
        total = _raw_sql_loop(
            lambda shard, bound: conn.execute(sql, (sid, shard, bound), binary=True).fetchall()
        )
        return total / (time.perf_counter() - started)


def _reachable(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


RawConsume = Callable[[StreamLog, str], Any]


async def _value(result: Any) -> float:
    """A raw reader's rate, whether it ran sync or returned a coroutine."""
    return float(await result if asyncio.iscoroutine(result) else result)


async def _bench(
    name: str, url: str, ceiling: float, raw_consume: RawConsume
) -> list[dict[str, Any]]:
    log = open_stream_log(url)
    await log.open()
    ns = f"bench{uuid.uuid4().hex[:8]}"
    out = []
    try:
        await log.create_stream(ns, "bench", shards=SHARDS)
        records = _records(N)
        rate = await _append_rate(log, ns, records)
        out.append(row(f"{name}: StreamLog append (batches of {BATCH})", rate, "records/s",
                       "raw driver", ceiling, ">= 0.60"))  # fmt: skip
        # A first raw pass warms caches (and sets PostgreSQL's hint bits) for both readers.
        await _value(raw_consume(log, ns))
        consume = await _consume_rate(log, ns, N)
        raw = await _value(raw_consume(log, ns))
        out.append(row(f"{name}: StreamLog consume (limit 1000)", consume, "records/s",
                       "raw driver", raw, ">= 0.60"))  # fmt: skip
        achieved, (p50, p99, p999) = await _latency(log, ns)
        out.append(row(f"{name}: offered {RATE}/s, achieved", achieved, "records/s"))
        out.append(row(f"{name}: append->read latency p50", p50, "ms"))
        out.append(row(f"{name}: append->read latency p99", p99, "ms"))
        out.append(row(f"{name}: append->read latency p99.9", p999, "ms"))
    finally:
        for stream in await log.list_streams(ns):
            await log.delete_stream(ns, stream)
        await log.close()
    return out


def main() -> list[dict[str, Any]]:
    print(f"{N:,} records of ~200 B, {SHARDS} shards, {APPENDERS} appenders")
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/s.db"

        def sqlite_consume(log: StreamLog, ns: str) -> float:
            return raw_sqlite_consume(path, ns)

        results += asyncio.run(_bench("sqlite", f"sqlite:///{path}", raw_sqlite(N), sqlite_consume))
    if _reachable(6379):
        redis_url = os.environ.get("AION_TEST_REDIS", "redis://127.0.0.1:6379/0")

        def redis_consume(log: StreamLog, ns: str) -> float:
            return raw_redis_consume(redis_url, "aionbench:", ns)

        ceiling = raw_redis(redis_url, N)
        url = f"{redis_url}?prefix=aionbench:"
        results += asyncio.run(_bench("redis", url, ceiling, redis_consume))
    if _reachable(4222):
        from aion.streams.backends.nats import NatsStreamLog

        nats_url = os.environ.get("AION_TEST_NATS", "nats://127.0.0.1:4222")

        def nats_consume(log: StreamLog, ns: str) -> Any:
            assert isinstance(log, NatsStreamLog)
            return raw_nats_consume(nats_url, log.stream_name(ns, "bench"))

        ceiling = asyncio.run(raw_nats(nats_url, N))
        url = f"{nats_url}?prefix=AIONBENCH"
        results += asyncio.run(_bench("nats", url, ceiling, nats_consume))
    if _reachable(5432):
        pg = os.environ.get("AION_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")

        def pg_consume(log: StreamLog, ns: str) -> float:
            return raw_postgres_consume(pg, ns)

        asyncio.run(_pg_ready(pg))
        results += asyncio.run(_bench("postgresql", pg, raw_postgres(pg, N), pg_consume))
    return results


async def _pg_ready(url: str) -> None:
    # The raw COPY needs aion_events to exist (LIKE), so open the store once first.
    log = open_stream_log(url)
    await log.open()
    await log.close()


if __name__ == "__main__":
    main()
