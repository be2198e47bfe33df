"""Concurrent writers on the PostgreSQL StreamLog: one stream against sixteen.

WRITERS tasks append batches of BATCH ~200 B records through one ``PostgresStreamLog`` (pool of
WRITERS connections): all into one single-shard stream, all into one stream of WRITERS shards,
then each into a single-shard stream of its own. A second connection samples
``pg_stat_activity`` every 20 ms and counts the writer connections waiting on a lock
(``wait_event_type = 'Lock'``) against those active. The reference is the raw driver in the
same run: the same tasks, each on its own connection, inserting the very rows (with sequence
numbers from a local counter) in one statement and committing, so no shard row is shared; it
is the ceiling for parallel writes on this machine.

Run one tree against another with ``PYTHONPATH=<tree>/src:<tree> python -m bench pg_writers``
to compare before and after.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from itertools import count
from typing import Any

import psycopg

from aion.core.time import kronos_time_now
from aion.storage.backends.postgres import PostgresEventStore
from aion.storage.schema import EVENTS_TABLE, RECORD_KIND
from aion.streams.backends.postgres import PostgresStreamLog
from aion.streams.backends.sql_common import encode_records
from aion.streams.protocol import AppendRecord
from bench.report import QUICK, row

WRITERS = 16
BATCH = 100
SECONDS = 2.0 if QUICK else 8.0
PAYLOAD = os.urandom(192)
_RECORDS = [AppendRecord(f"user-{i}", PAYLOAD) for i in range(BATCH)]
_SAMPLE = (
    "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND application_name = 'aion-bench-writer' "
    "AND state = 'active'"
)


def _url(base: str) -> str:
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}application_name=aion-bench-writer"


async def _sample(url: str, stop: asyncio.Event) -> tuple[int, int]:
    """(lock waits, active writers) summed over the samples taken until ``stop``."""
    waiting = active = 0
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            cur = await conn.execute(_SAMPLE)
            row_ = await cur.fetchone()
            assert row_ is not None
            waiting += int(row_[0])
            active += int(row_[1])
            await asyncio.sleep(0.02)
    return waiting, active


async def _run(url: str, streams: int, shards: int) -> tuple[float, float]:
    """Events/s and the share of active writers waiting on a lock."""
    store = PostgresEventStore(_url(url), min_size=WRITERS, max_size=WRITERS)
    log = PostgresStreamLog(store, owns_store=True)
    await log.open()
    ns = f"bench{uuid.uuid4().hex[:8]}"
    for s in range(streams):
        await log.create_stream(ns, f"s{s}", shards=shards)
    written = 0
    deadline = time.perf_counter() + SECONDS

    async def writer(i: int) -> None:
        nonlocal written
        name = f"s{i % streams}"
        while time.perf_counter() < deadline:
            await log.append(ns, name, _RECORDS)
            written += BATCH

    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample(url, stop))
    started = time.perf_counter()
    await asyncio.gather(*(writer(i) for i in range(WRITERS)))
    elapsed = time.perf_counter() - started
    stop.set()
    waiting, active = await sampler
    for s in range(streams):
        await log.delete_stream(ns, f"s{s}")
    await log.close()
    return written / elapsed, (waiting / active if active else 0.0)


async def _raw(url: str) -> float:
    """Events/s of the raw driver: each task inserts its rows and commits, nothing shared."""
    sql = (
        f"INSERT INTO {EVENTS_TABLE} (stream_id, k, time, shard, seq, partition_key, payload,"
        " kind) SELECT %s, k, t, 0, q, pk, p, %s FROM unnest(%b::bytea[], %b::bigint[],"
        " %b::bigint[], %b::text[], %b::bytea[]) AS r(k, t, q, pk, p)"
    )
    sid = -int.from_bytes(os.urandom(3), "big") - 1  # no real stream has a negative id
    seq = count(1)
    written = 0
    deadline = time.perf_counter() + SECONDS

    async def writer() -> None:
        nonlocal written
        async with await psycopg.AsyncConnection.connect(url) as conn:
            while time.perf_counter() < deadline:
                rows = encode_records(_RECORDS, kronos_time_now())
                params: tuple[Any, ...] = (
                    sid,
                    RECORD_KIND,
                    [r[0] for r in rows],
                    [r[1] for r in rows],
                    [next(seq) for _ in rows],
                    [r[2] for r in rows],
                    [r[3] for r in rows],
                )
                await conn.execute(sql, params)
                await conn.commit()
                written += BATCH

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    elapsed = time.perf_counter() - started
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f"DELETE FROM {EVENTS_TABLE} WHERE stream_id = %s", (sid,))
    return written / elapsed


async def _schema(url: str) -> None:
    """The tables, made as the server makes them."""
    store = PostgresEventStore(url)
    await store.open()
    await store.close()


def main() -> list[dict[str, Any]]:
    url = os.environ.get("AION_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.Error as exc:
        print(f"PostgreSQL unavailable ({exc}); skipped")
        return []
    asyncio.run(_schema(url))
    raw = asyncio.run(_raw(url))
    results = []
    for streams, shards in ((1, 1), (1, WRITERS), (WRITERS, 1)):
        rate, waiting = asyncio.run(_run(url, streams, shards))
        label = f"postgres {WRITERS} writers, {streams} stream(s) of {shards} shard(s)"
        results.append(row(f"{label}: append", rate, "events/s", "raw driver", raw))
        results.append(row(f"{label}: writers waiting on a lock", 100 * waiting, "%"))
    return results
