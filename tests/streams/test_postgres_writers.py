"""Concurrent appends to one PostgreSQL stream: one transaction for those that arrive together,
sequence numbers still dense and in order, each caller's records together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest

from aion.storage.backends.postgres import PostgresEventStore
from aion.storage.schema import EVENTS_TABLE, SHARDS_TABLE
from aion.streams.backends.postgres import PostgresStreamLog
from aion.streams.protocol import TRIM_HORIZON, AppendRecord
from tests.support.databases import fresh_postgres_database

pytestmark = pytest.mark.service

CALLERS = 10
PER_CALLER = 7


@pytest.fixture
async def pg_log() -> AsyncIterator[tuple[PostgresStreamLog, str]]:
    with fresh_postgres_database("aion_writers") as url:
        log = PostgresStreamLog(PostgresEventStore(url), owns_store=True)
        await log.open()
        try:
            yield log, url
        finally:
            await log.close()


async def _lock_waiters(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def test_appends_that_arrive_together_share_one_transaction(
    pg_log: tuple[PostgresStreamLog, str],
) -> None:
    log, url = pg_log
    await log.create_stream("w", "s", shards=1)
    await log.append("w", "s", [AppendRecord("k", b"first")])  # the stream is cached now
    async with await psycopg.AsyncConnection.connect(url) as blocker:
        # Another writer holds the shard's row: every append made now has to wait for it.
        await blocker.execute(f"SELECT 1 FROM {SHARDS_TABLE} FOR UPDATE")
        batches = [
            [AppendRecord(f"c{c}", f"{c}:{i}".encode()) for i in range(PER_CALLER)]
            for c in range(CALLERS)
        ]
        tasks = [asyncio.create_task(log.append("w", "s", b)) for b in batches]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while await _lock_waiters(url) == 0:
            assert loop.time() < deadline, "no append reached the shard's row lock"
            await asyncio.sleep(0.02)
        await blocker.rollback()
        results = await asyncio.gather(*tasks)
    # Dense and in order, and each caller's records consecutive, in its own order.
    every = sorted(seq for result in results for _, seq in result)
    assert every == list(range(2, 2 + CALLERS * PER_CALLER))
    for result in results:
        seqs = [seq for _, seq in result]
        assert seqs == list(range(seqs[0], seqs[0] + PER_CALLER))
    read = await log.read("w", "s", 0, TRIM_HORIZON, limit=1000)
    by_seq = {r.sequence: r.data for r in read.records}
    for batch, result in zip(batches, results, strict=True):
        assert [by_seq[seq] for _, seq in result] == [r.data for r in batch]
    # They went in as one transaction, or two (the first alone, the others arriving while it
    # waited for the row); one writer per append would have used ten.
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            f"SELECT count(DISTINCT xmin::text) FROM {EVENTS_TABLE} WHERE seq > 1"
        )
        row = await cur.fetchone()
    assert row is not None and int(row[0]) in (1, 2)
