"""The PostgreSQL EventStore (psycopg 3): the same rows as SQLite, written with COPY.

Per-shard sequence numbers come from ``UPDATE aion_shards … RETURNING``, whose row lock is
held until commit, so concurrent writers (several server processes) commit sequence numbers
in order and lose nothing. Reads page by key on pooled connections, so results stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from aion.core.events import EventPage, EventRecord
from aion.errors import BackendUnavailable
from aion.storage.batches import BatchIds, prune_sql, record_sql
from aion.storage.paging import keyset_pages
from aion.storage.placement import assign_shards, event_rows, sequence_numbers, shard_counts
from aion.storage.schema import EVENTS_TABLE, POSTGRES_DDL, SHARDS_TABLE, STREAMS_TABLE

__all__ = ["PostgresEventStore"]

T = TypeVar("T")
_PAGE = 5000
_RECORD_BATCH = record_sql("%s")
_PRUNE_BATCHES = prune_sql("%s")
_Conn = psycopg.AsyncConnection[Any]


class PostgresEventStore:
    """Events in PostgreSQL tables ``aion_streams``, ``aion_shards`` and ``aion_events``."""

    def __init__(self, url: str, min_size: int = 1, max_size: int = 8, timeout: float = 5.0):
        self.url = url.replace("postgres://", "postgresql://", 1)
        self._min_size = min_size
        self._max_size = max_size
        self._timeout = timeout
        self._pool: AsyncConnectionPool[_Conn] | None = None
        self._batch_ids = BatchIds()

    async def open(self) -> None:
        if self._pool is not None:
            return
        pool: AsyncConnectionPool[_Conn] = AsyncConnectionPool(
            self.url,
            min_size=self._min_size,
            max_size=self._max_size,
            timeout=self._timeout,
            open=False,
            kwargs={"autocommit": False},
        )
        try:
            # A probe fails at once when the server refuses; the pool would retry until its
            # timeout, making every request to a down database wait that long.
            probe = await psycopg.AsyncConnection.connect(
                self.url, connect_timeout=max(1, round(self._timeout))
            )
            await probe.close()
            await pool.open(wait=True, timeout=self._timeout)
            async with pool.connection() as conn:
                await conn.execute(POSTGRES_DDL)
        except (psycopg.Error, PoolTimeout) as exc:
            await pool.close()
            raise BackendUnavailable("postgresql", f"cannot connect: {exc}") from exc
        self._pool = pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def run(self, job: Callable[[_Conn], Awaitable[T]]) -> T:
        """Run ``job`` in one transaction on a pooled connection, mapping driver errors."""
        if self._pool is None:
            await self.open()  # a server started while PostgreSQL was down connects on use
        assert self._pool is not None
        try:
            async with self._pool.connection() as conn, conn.transaction():
                return await job(conn)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise BackendUnavailable("postgresql", str(exc).strip() or type(exc).__name__) from exc

    @staticmethod
    async def stream_id(conn: _Conn, namespace: str, stream: str, create: bool) -> int | None:
        """The id of a stream; created (one shard) on first write when ``create``."""
        if create:
            await conn.execute(
                f"INSERT INTO {STREAMS_TABLE} (namespace, name) VALUES (%s, %s) "
                "ON CONFLICT (namespace, name) DO NOTHING",
                (namespace, stream),
            )
        cur = await conn.execute(
            f"SELECT id FROM {STREAMS_TABLE} WHERE namespace = %s AND name = %s",
            (namespace, stream),
        )
        row = await cur.fetchone()
        return None if row is None else int(row[0])

    async def insert(
        self,
        namespace: str,
        stream: str,
        events: EventPage | Sequence[EventRecord],
        batch_id: str | None = None,
    ) -> int:
        page = EventPage.of(events)
        if not len(page):
            return 0
        remember = self._batch_ids.admit(batch_id)

        async def job(conn: _Conn) -> int:
            if remember is not None:
                cur = await conn.execute(_RECORD_BATCH, (namespace, stream, *remember))
                if cur.rowcount == 0:
                    return 0  # this batch id was stored already
                if self._batch_ids.prune_due():
                    await conn.execute(_PRUNE_BATCHES, (self._batch_ids.cutoff(),))
            sid = await self.stream_id(conn, namespace, stream, create=True)
            assert sid is not None, "the stream row was just created"
            cur = await conn.execute(f"SELECT shards FROM {STREAMS_TABLE} WHERE id = %s", (sid,))
            (shards,) = await cur.fetchone() or (1,)
            placed = assign_shards(page, shards)
            last: dict[int, int] = {}
            for shard, n in sorted(shard_counts(placed).items()):
                cur = await conn.execute(
                    f"INSERT INTO {SHARDS_TABLE} (stream_id, shard, last_seq) VALUES (%s, %s, %s) "
                    "ON CONFLICT (stream_id, shard) DO UPDATE "
                    f"SET last_seq = {SHARDS_TABLE}.last_seq + EXCLUDED.last_seq "
                    "RETURNING last_seq",
                    (sid, shard, n),
                )
                row = await cur.fetchone()
                assert row is not None
                last[shard] = int(row[0])
            seqs = sequence_numbers(placed, last)
            async with conn.cursor().copy(
                f"COPY {EVENTS_TABLE} (stream_id, k, time, shard, seq, partition_key, payload) "
                "FROM STDIN"
            ) as copy:
                for row in event_rows(sid, page, placed, seqs):
                    await copy.write_row(row)
            return len(page)

        return await self.run(job)

    async def retrieve(
        self,
        namespace: str,
        stream: str,
        low: bytes,
        high: bytes,
        *,
        descending: bool = False,
        limit: int | None = None,
    ) -> AsyncIterator[EventPage]:
        if limit is not None and limit <= 0:
            return

        async def find(conn: _Conn) -> int | None:
            return await self.stream_id(conn, namespace, stream, create=False)

        sid = await self.run(find)
        if sid is None:
            return
        order = "DESC" if descending else "ASC"
        sql = (
            f"SELECT k, time, payload FROM {EVENTS_TABLE} "
            f"WHERE stream_id = %s AND k >= %s AND k <= %s ORDER BY k {order} LIMIT %s"
        )

        async def fetch(lo: bytes, hi: bytes, size: int) -> EventPage:
            async def page(conn: _Conn) -> EventPage:
                # Walk the primary key in order: with stale statistics (right after a bulk
                # load) the planner otherwise sorts the whole range again for every page.
                await conn.execute("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off")
                cur = await conn.execute(sql, (sid, lo, hi, size), binary=True)
                return EventPage.from_rows(await cur.fetchall())

            return await self.run(page)

        async for page in keyset_pages(
            fetch, low, high, descending=descending, limit=limit, page_size=_PAGE
        ):
            yield page

    async def delete(self, namespace: str, stream: str, low: bytes, high: bytes) -> int:
        async def job(conn: _Conn) -> int:
            sid = await self.stream_id(conn, namespace, stream, create=False)
            if sid is None:
                return 0
            cur = await conn.execute(
                f"DELETE FROM {EVENTS_TABLE} WHERE stream_id = %s AND k >= %s AND k <= %s",
                (sid, low, high),
            )
            return cur.rowcount

        return await self.run(job)

    async def list_streams(self, namespace: str) -> list[str]:
        async def job(conn: _Conn) -> list[str]:
            cur = await conn.execute(
                f"SELECT name FROM {STREAMS_TABLE} s WHERE namespace = %s AND EXISTS "
                f"(SELECT 1 FROM {EVENTS_TABLE} e WHERE e.stream_id = s.id) ORDER BY name",
                (namespace,),
            )
            return [r[0] for r in await cur.fetchall()]

        return await self.run(job)

    async def is_alive(self) -> bool:
        async def job(conn: _Conn) -> bool:
            await conn.execute("SELECT 1")
            return True

        try:
            return await self.run(job)
        except BackendUnavailable:
            return False
