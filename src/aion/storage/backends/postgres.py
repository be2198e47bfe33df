"""The PostgreSQL EventStore (psycopg 3): the same rows as SQLite, written with COPY.

Per-shard sequence numbers come from the ``aion_shards`` row, whose lock is held until commit,
so concurrent writers (several server processes) commit sequence numbers in order and lose
nothing; the numbering and the insert are one statement sent with ``COMMIT``, so the lock is
held only while the server inserts and commits (``aion.storage.pg_sequenced``). Reads page by
key on pooled connections, so results stream.

A lost connection (PostgreSQL down or restarting, the network cut) opens a breaker
(``aion.storage.outages``): requests fail at once with ``BackendUnavailable`` instead of each
waiting ``timeout`` seconds for a pooled connection, while one task tries to connect right away
and then every ``reconnect_interval`` seconds. When that first try fails, the server is down:
the pool is dropped, and a fresh one is made as soon as PostgreSQL answers again (the pool's
own reconnection backs off 1, 2, 4 … s, so service came back long after the database did).
When it succeeds, only a connection was lost: the pool's idle connections are checked and
requests flow again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from aion.core.events import EventPage, EventRecord
from aion.errors import BackendUnavailable, Forbidden
from aion.storage.batches import BatchIds, prune_sql, record_sql
from aion.storage.outages import RECONNECT_INTERVAL_SECONDS, Breaker, WriteFailures
from aion.storage.paging import keyset_pages
from aion.storage.pg_sequenced import SEQUENCED_INSERT, SequencedBatch
from aion.storage.pg_url import parse_pg_url
from aion.storage.placement import assign_shards
from aion.storage.schema import (
    EVENT_KIND,
    EVENTS_TABLE,
    POSTGRES_DDL,
    STREAMS_TABLE,
    WRITE_PROBE_TABLE,
)

__all__ = ["PostgresEventStore"]

T = TypeVar("T")
_PAGE = 5000
_RECORD_BATCH = record_sql("%s") + " RETURNING 1"  # a row when the batch id is new
_PRUNE_BATCHES = prune_sql("%s")
_Conn = psycopg.AsyncConnection[Any]
_PROBE_CONNECT_TIMEOUT = 2  # seconds; libpq's least
_POOL_CLOSE_TIMEOUT = 1.0
_PROBE_BYTES = 8192
# SQLSTATEs of a connection that is gone: class 08 (connection exception), the server shutting
# down or crashed (57P01, 57P02) or still starting (57P03). Client-side failures have none.
_LOST_CONNECTION = ("08", "57P01", "57P02", "57P03")
_DISK_FULL = "53100"


class PostgresEventStore:
    """Events in PostgreSQL tables ``aion_streams``, ``aion_shards`` and ``aion_events``."""

    def __init__(
        self,
        url: str,
        min_size: int = 1,
        max_size: int | None = None,
        timeout: float = 5.0,
        reconnect_interval: float = RECONNECT_INTERVAL_SECONDS,
    ):
        # Aion's settings on the URL (pool_size, read_only) come off; libpq's stay.
        self.url, settings = parse_pg_url(url)
        self._max_size = max_size if max_size is not None else settings.pool_size
        self._min_size = min(min_size, self._max_size)
        self._read_only_setting = settings.read_only
        self.read_only = bool(settings.read_only)
        """Whether writes are refused: set on the URL, else found out on connecting."""
        self._timeout = timeout
        self._pool: AsyncConnectionPool[_Conn] | None = None
        self._batch_ids = BatchIds()
        self._schema_ready = False
        self._opening = asyncio.Lock()
        self.breaker = Breaker("postgresql", self._reconnect, reconnect_interval)
        """Open while PostgreSQL is unreachable; requests then fail at once."""
        self._writes = WriteFailures("postgresql")

    async def open(self) -> None:
        """Connect; when PostgreSQL is down, raise ``BackendUnavailable`` and keep trying in
        the background (requests fail at once meanwhile)."""
        async with self._opening:  # one pool, however many requests find none
            if self._pool is not None:
                return
            self.breaker.check()
            try:
                await self._connect()
            except BackendUnavailable as exc:
                self.breaker.trip(str(exc).split(": ", 1)[-1])  # without "backend … unavailable"
                raise

    async def _connect(self) -> None:
        """Make the pool, once PostgreSQL answers, and the tables the first time."""
        # A lone connection first: it fails at once when the server refuses, where the pool
        # would retry until its timeout.
        await self._probe()
        pool: AsyncConnectionPool[_Conn] = AsyncConnectionPool(
            self.url,
            min_size=self._min_size,
            max_size=self._max_size,
            timeout=self._timeout,
            open=False,
            kwargs={"autocommit": False, "connect_timeout": max(2, round(self._timeout))},
        )
        try:
            await pool.open(wait=True, timeout=self._timeout)
            async with pool.connection() as conn:
                if self._read_only_setting is None:  # a replica, or a read-only database
                    self.read_only = await _is_read_only(conn)
                # Not again on each reconnection (DDL takes locks), nor on a replica.
                if not self._schema_ready and not self.read_only:
                    await conn.execute(POSTGRES_DDL)
        except BaseException as exc:  # cancelled too (the store closing): no pool left open
            await pool.close()
            if isinstance(exc, psycopg.Error):
                raise BackendUnavailable("postgresql", f"cannot connect: {_message(exc)}") from exc
            raise
        self._schema_ready = True
        self._pool = pool

    async def _probe(self) -> None:
        """One connection, closed at once: raises ``BackendUnavailable`` when it fails."""
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.url, connect_timeout=_PROBE_CONNECT_TIMEOUT
            )
        except psycopg.Error as exc:
            raise BackendUnavailable("postgresql", f"cannot connect: {_message(exc)}") from exc
        await conn.close()

    async def _reconnect(self) -> None:
        """One attempt of the breaker's: returns once requests can flow again."""
        pool = self._pool
        if pool is None:
            await self._connect()
            return
        try:
            await self._probe()
        except BackendUnavailable:
            # Down indeed: drop the pool, so that its reconnection backoff (1, 2, 4 … s) does
            # not decide when service resumes; a fresh one is made when PostgreSQL answers.
            self._pool = None
            await pool.close(timeout=_POOL_CLOSE_TIMEOUT)
            raise
        # PostgreSQL answers: one connection was lost, not the server. Replace the idle
        # connections that broke with it before requests flow again.
        await pool.check()

    async def close(self) -> None:
        await self.breaker.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def run(
        self, job: Callable[[_Conn], Awaitable[T]], *, write: bool = False, pipeline: bool = False
    ) -> T:
        """Run ``job`` in one transaction on a pooled connection, mapping driver errors.

        Fails at once while the breaker is open. A lost connection opens it; any other
        failure of a ``write`` job (a full disk) is remembered for readiness until a write
        succeeds. With ``pipeline``, the connection is in pipeline mode: a statement whose
        result the job does not fetch goes to the server together with ``COMMIT`` (the job
        returns its cursor, read after the commit), so row locks it takes are never held
        across a round trip to this process (``aion.storage.pg_sequenced``)."""
        self.breaker.check()
        if self._pool is None:
            await self.open()  # never opened, or closed: connect now
        pool = self._pool
        assert pool is not None
        if write and self.read_only:
            raise self._refused()
        try:
            async with (
                pool.connection() as conn,
                conn.pipeline() if pipeline else _no_pipeline(),
                conn.transaction(),
            ):
                result = await job(conn)
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            raise self._refused() from exc
        except psycopg.OperationalError as exc:
            message = _message(exc)
            if _lost_connection(exc):
                if pool is self._pool:  # not a pool that an earlier outage already dropped
                    self.breaker.trip(message)
            elif write:
                self._writes.failed("disk full" if exc.sqlstate == _DISK_FULL else message)
            raise BackendUnavailable("postgresql", message) from exc
        if write:
            self._writes.succeeded()
        return result

    def _refused(self) -> Forbidden:
        where = urlsplit(self.url)
        return Forbidden(
            f"the PostgreSQL database {where.hostname or 'localhost'}:{where.port or 5432}"
            f"{where.path} is read-only (a replica, or read_only=true on its URL): "
            "writes go to the primary"
        )

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

        async def job(conn: _Conn) -> tuple[SequencedBatch, psycopg.AsyncCursor[Any]] | None:
            # Pipelined (see run): every statement but the last is read before the next.
            if remember is not None:
                cur = await conn.execute(_RECORD_BATCH, (namespace, stream, *remember))
                if await cur.fetchone() is None:
                    return None  # this batch id was stored already
                if self._batch_ids.prune_due():
                    await conn.execute(_PRUNE_BATCHES, (self._batch_ids.cutoff(),))
            sid = await self.stream_id(conn, namespace, stream, create=True)
            assert sid is not None, "the stream row was just created"
            # KEY SHARE: the stream's row stays while the batch goes in (writers do not wait
            # for each other; deleting the stream waits for them).
            cur = await conn.execute(
                f"SELECT shards FROM {STREAMS_TABLE} WHERE id = %s FOR KEY SHARE", (sid,)
            )
            (shards,) = await cur.fetchone() or (1,)
            batch = SequencedBatch(
                stream_id=sid,
                shards=int(shards),
                placed=assign_shards(page, shards),
                keys=page.keys,
                times=page.times,
                partition_keys=page.partition_keys or [None] * len(page),
                payloads=page.payloads,
                kind=EVENT_KIND,
            )
            # Numbered and inserted in one statement sent with COMMIT, so the shard row
            # locks live for the insert and the commit only (aion.storage.pg_sequenced).
            return batch, await conn.execute(SEQUENCED_INSERT, batch.params())

        done = await self.run(job, write=True, pipeline=True)
        if done is None:
            return 0
        batch, cur = done
        if len(await cur.fetchall()) != batch.shard_count:  # the stream's row is locked
            raise AssertionError("the stream row changed under a key-share lock")
        return len(page)

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

        return await self.run(job, write=True)

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

    async def write_problem(self) -> str | None:
        if self._writes.problem is not None:
            with contextlib.suppress(BackendUnavailable, psycopg.Error):
                await self.run(_probe_write, write=True)  # success clears the problem
        return self._writes.problem


async def _is_read_only(conn: _Conn) -> bool:
    """Whether the server is a standby, or its sessions only read by default."""
    cur = await conn.execute(
        "SELECT pg_is_in_recovery() OR current_setting('default_transaction_read_only') = 'on'"
    )
    row = await cur.fetchone()
    await conn.rollback()
    return bool(row and row[0])


@contextlib.asynccontextmanager
async def _no_pipeline() -> AsyncIterator[None]:
    yield


async def _probe_write(conn: _Conn) -> None:
    """A small committed write that needs room in a table, as a put does; the table stays
    empty. Random bytes, so that compression cannot make the row small."""
    await conn.execute(f"INSERT INTO {WRITE_PROBE_TABLE} VALUES (%s)", (os.urandom(_PROBE_BYTES),))
    await conn.execute(f"DELETE FROM {WRITE_PROBE_TABLE}")


def _lost_connection(exc: psycopg.OperationalError) -> bool:
    """Whether ``exc`` says the connection (or the server) is gone, not that a statement
    failed on a working connection."""
    if isinstance(exc, PoolTimeout):
        return True  # no connection could be had in time
    state = exc.sqlstate
    return state is None or state.startswith(_LOST_CONNECTION)


def _message(exc: psycopg.Error) -> str:
    """The first line of a driver error (libpq adds hints on the next ones)."""
    return str(exc).strip().split("\n", 1)[0] or type(exc).__name__
