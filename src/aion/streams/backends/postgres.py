"""The PostgreSQL StreamLog: the same rows as the PostgreSQL EventStore, by shard and sequence.

It composes a :class:`PostgresEventStore` (shared with the time API, or its own). Appends take
the shards' ``aion_shards`` row locks and insert the rows in one statement sent together with
``COMMIT`` (``aion.storage.pg_sequenced``): the locks are held to commit, so the sequence
numbers of a shard become visible in order, but only for as long as the server takes to insert
and commit. Leases and checkpoints change with
``INSERT … ON CONFLICT … WHERE`` statements, which are compare-and-set in one round trip.

A read fetches pages whose stored payloads add up to about what its byte budget has left (a
window sum over ``octet_length``, which PostgreSQL answers without loading the values), so the
rows past the budget never leave the server; records of a few KiB come in one page.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import psycopg

from aion.core.time import kronos_time_now
from aion.storage.backends.postgres import PostgresEventStore
from aion.storage.pg_sequenced import SEQUENCED_INSERT, SequencedBatch
from aion.storage.placement import sequence_numbers
from aion.storage.schema import (
    CHECKPOINTS_TABLE,
    EVENTS_TABLE,
    LEASES_TABLE,
    RECORD_KIND,
    SHARDS_TABLE,
    STREAMS_TABLE,
)
from aion.streams.backends.coalesce import Coalescer
from aion.streams.backends.sql_common import (
    LongPoll,
    StaleStream,
    StreamRow,
    encode_records,
    fresh_retry,
    take_rows,
    trim_key,
)
from aion.streams.protocol import (
    MAX_READ_BYTES,
    AppendRecord,
    Lease,
    Position,
    PositionKind,
    ReadResult,
    StoredRecord,
    StreamDescription,
    check_new_stream,
    check_records,
    check_stream,
    shard_of,
    start_after,
)
from aion.streams.rules import (
    ReadBudget,
    StreamInfoCache,
    check_checkpoint,
    check_checkpoint_end,
    check_lease_request,
    check_limit,
    check_shard_count,
    granted_lease,
    owner_and_claimant,
    read_result,
    shard_bounds,
    stored_owner,
    stream_description,
    stream_not_found,
)

__all__ = ["PostgresStreamLog"]

_Conn = psycopg.AsyncConnection[Any]


async def _info(conn: _Conn, namespace: str, stream: str) -> StreamRow:
    cur = await conn.execute(
        f"SELECT id, shards, retention_seconds FROM {STREAMS_TABLE} "
        "WHERE namespace = %s AND name = %s",
        (namespace, stream),
    )
    row = await cur.fetchone()
    if row is None:
        raise stream_not_found(namespace, stream)
    return StreamRow(int(row[0]), int(row[1]), None if row[2] is None else int(row[2]))


async def _bounds(conn: _Conn, sid: int, shard: int) -> tuple[int, int]:
    """(trim mark, last sequence) of a shard, as in the SQLite StreamLog."""
    cur = await conn.execute(
        f"SELECT (SELECT last_seq FROM {SHARDS_TABLE} WHERE stream_id = %(s)s AND shard = %(h)s),"
        f" (SELECT MIN(seq) FROM {EVENTS_TABLE} WHERE stream_id = %(s)s AND shard = %(h)s),"
        f" EXISTS (SELECT 1 FROM {STREAMS_TABLE} WHERE id = %(s)s)",
        {"s": sid, "h": shard},
    )
    row = await cur.fetchone()
    assert row is not None
    if not row[2]:
        raise StaleStream  # the stream was deleted since its id was cached
    last = int(row[0] or 0)
    return (last if row[1] is None else int(row[1]) - 1), last


async def _first_read(
    conn: _Conn, *, sid: int, shard: int, position: Position, limit: int, max_bytes: int
) -> tuple[int, ReadResult]:
    """Where a read starts (the sequence it goes past) and its first records."""
    trimmed, last = await _bounds(conn, sid, shard)
    if position.kind is PositionKind.AT_TIMESTAMP:
        cur = await conn.execute(
            f"SELECT seq FROM {EVENTS_TABLE} WHERE stream_id = %s AND shard = %s "
            "AND time >= %s ORDER BY seq LIMIT 1",
            (sid, shard, position.value),
        )
        row = await cur.fetchone()
        bound = last if row is None else int(row[0]) - 1
    else:
        bound = start_after(position, trimmed, last)
    return bound, await _fetch(conn, sid, shard, bound, limit, max_bytes)


# The rows after ``after`` whose stored payloads before them add up to less than the budget:
# every row the budget could take, plus at most one. ``octet_length`` reads the size of a
# TOASTed value without loading it.
_PAGE = (
    "SELECT seq, partition_key, payload, time, kind FROM ("
    " SELECT seq, partition_key, payload, time, kind, octet_length(payload) AS size,"
    "  SUM(octet_length(payload)) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) AS upto"
    f" FROM {EVENTS_TABLE} WHERE stream_id = %(s)s AND shard = %(h)s AND seq > %(a)s"
    " ORDER BY seq LIMIT %(n)s"
    ") page WHERE upto - size < %(b)s ORDER BY seq"
)

# A later page of the same read stops, instead, when the rows up to ``after`` are gone: a
# trim ran between two pages (each statement sees its own snapshot), and rows it removed
# past ``after`` would otherwise be skipped without a word. The next read then reports them.
_LATER_PAGE = _PAGE.replace(
    "seq > %(a)s",
    f"seq > %(a)s AND (SELECT MIN(seq) FROM {EVENTS_TABLE}"
    " WHERE stream_id = %(s)s AND shard = %(h)s) <= %(a)s",
)


async def _take(
    conn: _Conn, sid: int, shard: int, bound: int, limit: int, max_bytes: int
) -> list[StoredRecord]:
    """The records after ``bound`` that fit ``limit`` and ``max_bytes``, page by page."""
    budget = ReadBudget(limit, max_bytes)
    records: list[StoredRecord] = []
    after = bound
    while True:
        asked = budget.bytes_left
        wanted = budget.records_left
        cur = await conn.execute(
            _LATER_PAGE if records else _PAGE,
            {"s": sid, "h": shard, "a": after, "n": wanted, "b": asked},
            binary=True,
        )
        rows = await cur.fetchall()
        page, stopped = take_rows(shard, rows, budget)
        records += page
        # The page ended at the byte sum, not at the last row: more rows may still fit.
        cut = len(rows) < wanted and sum(len(r[2]) for r in rows) >= asked
        if stopped or not cut or not page:
            return records
        after = page[-1].sequence


async def _fetch(
    conn: _Conn, sid: int, shard: int, bound: int, limit: int, max_bytes: int
) -> ReadResult:
    records = await _take(conn, sid, shard, bound, limit, max_bytes)
    if not records:
        return read_result([], bound, None)
    cur = await conn.execute(
        f"SELECT time FROM {EVENTS_TABLE} WHERE stream_id = %s AND shard = %s "
        "ORDER BY seq DESC LIMIT 1",
        (sid, shard),
    )
    newest = await cur.fetchone()
    return read_result(records, bound, int(newest[0]) if newest else None)


class PostgresStreamLog:
    """Sharded streams in the PostgreSQL event tables. Pass the server's
    ``PostgresEventStore`` to share it (its owner opens and closes it, unless ``owns_store``),
    or a URL to own one."""

    def __init__(self, store: PostgresEventStore | str, owns_store: bool = False) -> None:
        self._owns_store = owns_store or not isinstance(store, PostgresEventStore)
        self.store = store if isinstance(store, PostgresEventStore) else PostgresEventStore(store)
        self._infos = StreamInfoCache(self._load_info)
        self._long_poll = LongPoll()
        self._appends: Coalescer[StreamRow, AppendRecord, tuple[int, int]] = Coalescer(self._append)

    async def open(self) -> None:
        await self.store.open()

    async def close(self) -> None:
        if self._owns_store:
            await self.store.close()

    async def _load_info(self, namespace: str, stream: str) -> StreamRow:
        async def job(conn: _Conn) -> StreamRow:
            return await _info(conn, namespace, stream)

        return await self.store.run(job)

    async def create_stream(
        self, namespace: str, stream: str, shards: int = 1, retention_seconds: int | None = None
    ) -> StreamDescription:
        check_new_stream(namespace, stream, shards, retention_seconds)

        async def job(conn: _Conn) -> None:
            await conn.execute(
                f"INSERT INTO {STREAMS_TABLE} (namespace, name, shards, retention_seconds) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (namespace, name) DO NOTHING",
                (namespace, stream, shards, retention_seconds),
            )
            found = await _info(conn, namespace, stream)
            check_shard_count(stream, found.shards, shards)
            await conn.execute(
                f"INSERT INTO {SHARDS_TABLE} (stream_id, shard) "
                "SELECT %s, g FROM generate_series(0, %s - 1) g ON CONFLICT DO NOTHING",
                (found.sid, shards),
            )

        await self.store.run(job)
        return await self.describe_stream(namespace, stream)

    async def describe_stream(self, namespace: str, stream: str) -> StreamDescription:
        check_stream(namespace, stream)

        async def job(conn: _Conn) -> StreamDescription:
            found = await _info(conn, namespace, stream)
            bounds = [shard_bounds(*await _bounds(conn, found.sid, i)) for i in range(found.shards)]
            return stream_description(namespace, stream, bounds, found.retention_seconds)

        return await self.store.run(job)

    async def delete_stream(self, namespace: str, stream: str) -> None:
        check_stream(namespace, stream)

        async def job(conn: _Conn) -> None:
            sid = (await _info(conn, namespace, stream)).sid
            for table in (EVENTS_TABLE, SHARDS_TABLE, CHECKPOINTS_TABLE, LEASES_TABLE):
                await conn.execute(f"DELETE FROM {table} WHERE stream_id = %s", (sid,))
            await conn.execute(f"DELETE FROM {STREAMS_TABLE} WHERE id = %s", (sid,))

        await self.store.run(job)
        self._infos.forget(namespace, stream)

    async def list_namespaces(self) -> list[str]:
        """The namespaces that hold at least one stream, sorted."""

        async def job(conn: _Conn) -> list[str]:
            sql = f"SELECT DISTINCT namespace FROM {STREAMS_TABLE} ORDER BY namespace"
            return [r[0] for r in await (await conn.execute(sql)).fetchall()]

        return await self.store.run(job)

    async def list_streams(self, namespace: str) -> list[str]:
        async def job(conn: _Conn) -> list[str]:
            cur = await conn.execute(
                f"SELECT name FROM {STREAMS_TABLE} WHERE namespace = %s ORDER BY name",
                (namespace,),
            )
            return [r[0] for r in await cur.fetchall()]

        return await self.store.run(job)

    async def append(
        self, namespace: str, stream: str, records: Sequence[AppendRecord]
    ) -> list[tuple[int, int]]:
        check_records(records)

        async def attempt() -> list[tuple[int, int]]:
            found = await self._infos.stream(namespace, stream)
            if not records:
                return []
            # StaleStream when another server deleted or re-made the stream since it was
            # cached: it is then looked up afresh and the batch placed again, once. Batches
            # for the stream that arrive while one is written go in together (coalesce).
            result = await self._appends.submit(found, records)
            await self._long_poll.appended()
            return result

        forget = functools.partial(self._infos.forget, namespace, stream)
        return await fresh_retry(attempt, forget, namespace, stream)

    async def _append(
        self, found: StreamRow, records: Sequence[AppendRecord]
    ) -> list[tuple[int, int]]:
        placed = [shard_of(r, found.shards) for r in records]
        rows = encode_records(records, kronos_time_now())
        batch = SequencedBatch(
            stream_id=found.sid,
            shards=found.shards,
            placed=placed,
            keys=[r[0] for r in rows],
            times=[r[1] for r in rows],
            partition_keys=[r[2] for r in rows],
            payloads=[r[3] for r in rows],
            kind=RECORD_KIND,
        )
        params = batch.params()

        async def job(conn: _Conn) -> psycopg.AsyncCursor[Any]:
            # Numbered and inserted in one statement sent with COMMIT: the shard row locks
            # live for the insert and the commit only (aion.storage.pg_sequenced).
            return await conn.execute(SEQUENCED_INSERT, params)

        cur = await self.store.run(job, write=True, pipeline=True)
        last = {int(s): int(q) for s, q in await cur.fetchall()}
        if len(last) != batch.shard_count:
            raise StaleStream  # the stream's row changed: nothing was written
        return list(zip(placed, sequence_numbers(placed, last), strict=True))

    async def read(
        self,
        namespace: str,
        stream: str,
        shard: int,
        position: Position,
        limit: int = 1000,
        wait_seconds: float = 0.0,
        max_bytes: int = MAX_READ_BYTES,
    ) -> ReadResult:
        check_limit(limit, max_bytes)

        async def attempt() -> tuple[int, int, ReadResult]:
            sid = (await self._infos.shard(namespace, stream, shard)).sid
            first: Callable[[_Conn], Awaitable[tuple[int, ReadResult]]] = functools.partial(
                _first_read,
                sid=sid,
                shard=shard,
                position=position,
                limit=limit,
                max_bytes=max_bytes,
            )
            return (sid, *await self.store.run(first))

        # Another server may have deleted (and made again) the stream this one cached.
        forget = functools.partial(self._infos.forget, namespace, stream)
        sid, bound, result = await fresh_retry(attempt, forget, namespace, stream)
        if result.records or wait_seconds <= 0:
            return result

        async def arrived() -> bool:
            async def job(conn: _Conn) -> bool:
                cur = await conn.execute(
                    f"SELECT last_seq FROM {SHARDS_TABLE} WHERE stream_id = %s AND shard = %s",
                    (sid, shard),
                )
                row = await cur.fetchone()
                return row is not None and int(row[0]) > bound

            return await self.store.run(job)

        await self._long_poll.wait(arrived, wait_seconds)

        async def again(conn: _Conn) -> ReadResult:
            return await _fetch(conn, sid, shard, bound, limit, max_bytes)

        return await self.store.run(again)

    async def trim(self, namespace: str, stream: str) -> int:
        found = await self._infos.stream(namespace, stream)
        if found.retention_seconds is None:
            return 0
        key = trim_key(found.retention_seconds, kronos_time_now())

        async def job(conn: _Conn) -> int:
            cur = await conn.execute(
                f"DELETE FROM {EVENTS_TABLE} WHERE stream_id = %s AND k < %s", (found.sid, key)
            )
            return cur.rowcount

        return await self.store.run(job)

    async def get_checkpoints(self, namespace: str, stream: str, group: str) -> dict[int, int]:
        sid = (await self._infos.stream(namespace, stream)).sid

        async def job(conn: _Conn) -> dict[int, int]:
            cur = await conn.execute(
                f"SELECT shard, seq FROM {CHECKPOINTS_TABLE} WHERE stream_id = %s AND grp = %s",
                (sid, group),
            )
            return {int(s): int(q) for s, q in await cur.fetchall()}

        return await self.store.run(job)

    async def set_checkpoint(
        self,
        namespace: str,
        stream: str,
        group: str,
        shard: int,
        sequence: int,
        expected: int | None = None,
    ) -> bool:
        check_checkpoint(sequence, expected)
        sid = (await self._infos.shard(namespace, stream, shard)).sid
        sql = (
            f"INSERT INTO {CHECKPOINTS_TABLE} AS c (stream_id, grp, shard, seq) "
            "VALUES (%(s)s, %(g)s, %(h)s, %(q)s) ON CONFLICT (stream_id, grp, shard) "
            "DO UPDATE SET seq = EXCLUDED.seq"
        )
        if expected is not None:
            if expected == 0:
                sql = sql.replace("DO UPDATE SET seq = EXCLUDED.seq", "DO NOTHING")
            else:
                sql = (
                    f"UPDATE {CHECKPOINTS_TABLE} SET seq = %(q)s WHERE stream_id = %(s)s "
                    "AND grp = %(g)s AND shard = %(h)s AND seq = %(e)s"
                )
        params = {"s": sid, "g": group, "h": shard, "q": sequence, "e": expected}

        async def job(conn: _Conn) -> bool:
            check_checkpoint_end(sequence, (await _bounds(conn, sid, shard))[1])
            cur = await conn.execute(sql, params)
            return cur.rowcount == 1

        return await self.store.run(job)

    async def get_leases(self, namespace: str, stream: str, group: str) -> dict[int, Lease]:
        sid = (await self._infos.stream(namespace, stream)).sid

        async def job(conn: _Conn) -> dict[int, Lease]:
            cur = await conn.execute(
                f"SELECT shard, owner, expires_at, version FROM {LEASES_TABLE} "
                "WHERE stream_id = %s AND grp = %s",
                (sid, group),
            )
            rows = await cur.fetchall()
            return {int(s): _lease(int(s), o, int(e), int(v)) for s, o, e, v in rows}

        return await self.store.run(job)

    async def lease_time(self, namespace: str, stream: str) -> int:
        await self._infos.stream(namespace, stream)

        async def job(conn: _Conn) -> int:
            cur = await conn.execute(f"SELECT {_STORE_NOW}")
            row = await cur.fetchone()
            assert row is not None
            return int(row[0])

        return await self.store.run(job)

    async def set_lease(
        self,
        namespace: str,
        stream: str,
        group: str,
        shard: int,
        owner: str | None,
        lease_seconds: float | None,
        expected_version: int,
        claimant: str | None = None,
    ) -> Lease | None:
        ttl = check_lease_request(expected_version, lease_seconds, owner, claimant)
        sid = (await self._infos.shard(namespace, stream, shard)).sid
        # One statement: insert when no lease exists (expected 0), else update only the row
        # still at the expected version; a returned row says who won. The expiry is computed
        # by PostgreSQL from its own clock in the same statement (NULL ttl: kept as stored).
        sql = (
            f"INSERT INTO {LEASES_TABLE} AS l (stream_id, grp, shard, owner, expires_at, version) "
            f"VALUES (%(s)s, %(g)s, %(h)s, %(o)s, {_STORE_NOW} + coalesce(%(t)s::bigint, 0), "
            "%(v)s) ON CONFLICT (stream_id, grp, shard) DO NOTHING RETURNING expires_at"
            if expected_version == 0
            else f"UPDATE {LEASES_TABLE} SET owner = %(o)s, version = %(v)s, "
            f"expires_at = coalesce({_STORE_NOW} + %(t)s::bigint, expires_at) "
            "WHERE stream_id = %(s)s AND grp = %(g)s AND shard = %(h)s AND version = %(e)s "
            "RETURNING expires_at"
        )
        params = {
            "s": sid,
            "g": group,
            "h": shard,
            "o": stored_owner(owner, claimant),
            "t": ttl,
            "v": expected_version + 1,
            "e": expected_version,
        }

        async def job(conn: _Conn) -> int | None:
            cur = await conn.execute(sql, params)
            row = await cur.fetchone()
            return None if row is None else int(row[0])

        expires_at = await self.store.run(job)
        if expires_at is None:
            return None
        return granted_lease(shard, owner, expires_at, expected_version, claimant)


_STORE_NOW = "(extract(epoch FROM clock_timestamp()) * 10000000)::bigint"
"""PostgreSQL's clock as kronos time (100 ns ticks; microsecond resolution)."""


def _lease(shard: int, owner: str | None, expires_at: int, version: int) -> Lease:
    name, claimant = owner_and_claimant(owner)
    return Lease(shard, name, expires_at, version, claimant)
