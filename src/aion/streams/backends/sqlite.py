"""The SQLite StreamLog: the same rows as the SQLite EventStore, read by shard and sequence.

It composes a :class:`SQLiteEventStore` (shared with the time API, or its own), so writes go
through the store's single writer thread and group commit, and reads through its read-only
pool. Per-shard sequence numbers come from ``aion_shards.last_seq`` inside the write, so the
EventStore and the StreamLog hand out one sequence per shard between them.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from aion.core.time import kronos_time_now
from aion.storage.backends.sqlite import SQLiteEventStore
from aion.storage.placement import sequence_numbers, shard_counts
from aion.storage.schema import (
    CHECKPOINTS_TABLE,
    EVENTS_TABLE,
    LEASES_TABLE,
    RECORD_KIND,
    SHARDS_TABLE,
    STREAMS_TABLE,
)
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
    StreamDescription,
    StreamNotFound,
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
    checkpoint_matches,
    lease_after_cas,
    owner_and_claimant,
    read_result,
    shard_bounds,
    stored_owner,
    stream_description,
    stream_not_found,
)

__all__ = ["SQLiteStreamLog"]


def _info(conn: sqlite3.Connection, namespace: str, stream: str) -> StreamRow:
    row = conn.execute(
        f"SELECT id, shards, retention_seconds FROM {STREAMS_TABLE} "
        "WHERE namespace = ? AND name = ?",
        (namespace, stream),
    ).fetchone()
    if row is None:
        raise stream_not_found(namespace, stream)
    return StreamRow(int(row[0]), int(row[1]), row[2])


def _bounds(conn: sqlite3.Connection, sid: int, shard: int) -> tuple[int, int]:
    """(trim mark, last sequence) of a shard: the trim mark is one below the lowest sequence
    still stored, or the last sequence when the shard holds nothing."""
    if conn.execute(f"SELECT 1 FROM {STREAMS_TABLE} WHERE id = ?", (sid,)).fetchone() is None:
        raise StaleStream  # the stream was deleted since its id was cached
    row = conn.execute(
        f"SELECT last_seq FROM {SHARDS_TABLE} WHERE stream_id = ? AND shard = ?", (sid, shard)
    ).fetchone()
    last = int(row[0]) if row else 0
    (low,) = conn.execute(
        f"SELECT MIN(seq) FROM {EVENTS_TABLE} WHERE stream_id = ? AND shard = ?", (sid, shard)
    ).fetchone()
    return (last if low is None else int(low) - 1), last


class SQLiteStreamLog:
    """Sharded streams in the SQLite event tables. Pass the server's ``SQLiteEventStore`` to
    share it (its owner opens and closes it; ``owns_store=True`` hands that job over), or a
    path to own a store of its own."""

    def __init__(self, store: SQLiteEventStore | str | Path, owns_store: bool = False) -> None:
        self._owns_store = owns_store or not isinstance(store, SQLiteEventStore)
        self.store = store if isinstance(store, SQLiteEventStore) else SQLiteEventStore(store)
        self._infos = StreamInfoCache(self._load_info)
        self._long_poll = LongPoll()

    async def open(self) -> None:
        await self.store.open()
        await self.store.write(_add_kind_column)

    async def close(self) -> None:
        if self._owns_store:
            await self.store.close()

    async def _load_info(self, namespace: str, stream: str) -> StreamRow:
        return await self.store.read(lambda c: _info(c, namespace, stream))

    async def create_stream(
        self, namespace: str, stream: str, shards: int = 1, retention_seconds: int | None = None
    ) -> StreamDescription:
        check_new_stream(namespace, stream, shards, retention_seconds)

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT OR IGNORE INTO {STREAMS_TABLE} (namespace, name, shards, "
                "retention_seconds) VALUES (?, ?, ?, ?)",
                (namespace, stream, shards, retention_seconds),
            )
            found = _info(conn, namespace, stream)
            check_shard_count(stream, found.shards, shards)
            conn.executemany(
                f"INSERT OR IGNORE INTO {SHARDS_TABLE} (stream_id, shard) VALUES (?, ?)",
                [(found.sid, i) for i in range(shards)],
            )

        await self.store.write(job)
        return await self.describe_stream(namespace, stream)

    async def describe_stream(self, namespace: str, stream: str) -> StreamDescription:
        check_stream(namespace, stream)

        def job(conn: sqlite3.Connection) -> StreamDescription:
            found = _info(conn, namespace, stream)
            bounds = [shard_bounds(*_bounds(conn, found.sid, i)) for i in range(found.shards)]
            return stream_description(namespace, stream, bounds, found.retention_seconds)

        return await self.store.read(job)

    async def delete_stream(self, namespace: str, stream: str) -> None:
        check_stream(namespace, stream)

        def job(conn: sqlite3.Connection) -> None:
            sid = _info(conn, namespace, stream).sid
            for table in (EVENTS_TABLE, SHARDS_TABLE, CHECKPOINTS_TABLE, LEASES_TABLE):
                conn.execute(f"DELETE FROM {table} WHERE stream_id = ?", (sid,))
            conn.execute(f"DELETE FROM {STREAMS_TABLE} WHERE id = ?", (sid,))

        await self.store.write(job)
        self._infos.forget(namespace, stream)

    async def list_namespaces(self) -> list[str]:
        """The namespaces that hold at least one stream, sorted."""
        sql = f"SELECT DISTINCT namespace FROM {STREAMS_TABLE} ORDER BY namespace"
        rows = await self.store.read(lambda c: c.execute(sql).fetchall())
        return [r[0] for r in rows]

    async def list_streams(self, namespace: str) -> list[str]:
        sql = f"SELECT name FROM {STREAMS_TABLE} WHERE namespace = ? ORDER BY name"
        rows = await self.store.read(lambda c: c.execute(sql, (namespace,)).fetchall())
        return [r[0] for r in rows]

    async def append(
        self, namespace: str, stream: str, records: Sequence[AppendRecord]
    ) -> list[tuple[int, int]]:
        check_records(records)

        async def attempt() -> list[tuple[int, int]]:
            found = await self._infos.stream(namespace, stream)
            if not records:
                return []
            # StaleStream when another process sharing the file deleted or re-made the stream
            # since it was cached: it is then looked up afresh and the batch placed again, once.
            placed, seqs = await self._append(namespace, stream, found, records)
            await self._long_poll.appended()
            return list(zip(placed, seqs, strict=True))

        forget = functools.partial(self._infos.forget, namespace, stream)
        return await fresh_retry(attempt, forget, namespace, stream)

    async def _append(
        self, namespace: str, stream: str, found: StreamRow, records: Sequence[AppendRecord]
    ) -> tuple[list[int], list[int]]:
        placed = [shard_of(r, found.shards) for r in records]

        def job(conn: sqlite3.Connection) -> list[int]:
            try:
                if _info(conn, namespace, stream) != found:
                    raise StaleStream
            except StreamNotFound:
                raise StaleStream from None
            now = kronos_time_now()
            last: dict[int, int] = {}
            for shard, n in shard_counts(placed).items():
                row = conn.execute(
                    f"UPDATE {SHARDS_TABLE} SET last_seq = last_seq + ? "
                    "WHERE stream_id = ? AND shard = ? RETURNING last_seq",
                    (n, found.sid, shard),
                ).fetchone()
                if row is None:  # a stream the EventStore created has no shard rows yet
                    conn.execute(
                        f"INSERT INTO {SHARDS_TABLE} (stream_id, shard, last_seq) VALUES (?, ?, ?)",
                        (found.sid, shard, n),
                    )
                    row = (n,)
                last[shard] = int(row[0])
            seqs = sequence_numbers(placed, last)
            conn.executemany(
                f"INSERT INTO {EVENTS_TABLE} "
                "(stream_id, k, time, shard, seq, partition_key, payload, kind) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, {RECORD_KIND})",
                [
                    (found.sid, k, t, shard, seq, pk, payload)
                    for (k, t, pk, payload), shard, seq in zip(
                        encode_records(records, now), placed, seqs, strict=True
                    )
                ],
            )
            return seqs

        return placed, await self.store.write(job)

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
            first: Callable[[sqlite3.Connection], tuple[int, ReadResult]] = functools.partial(
                _first_read,
                sid=sid,
                shard=shard,
                position=position,
                limit=limit,
                max_bytes=max_bytes,
            )
            return (sid, *await self.store.read(first))

        # Another server may have deleted (and made again) the stream this one cached.
        forget = functools.partial(self._infos.forget, namespace, stream)
        sid, bound, result = await fresh_retry(attempt, forget, namespace, stream)
        if result.records or wait_seconds <= 0:
            return result

        async def arrived() -> bool:
            sql = f"SELECT last_seq FROM {SHARDS_TABLE} WHERE stream_id = ? AND shard = ?"
            row = await self.store.read(lambda c: c.execute(sql, (sid, shard)).fetchone())
            return row is not None and int(row[0]) > bound

        await self._long_poll.wait(arrived, wait_seconds)
        return await self.store.read(lambda c: _fetch(c, sid, shard, bound, limit, max_bytes))

    async def trim(self, namespace: str, stream: str) -> int:
        found = await self._infos.stream(namespace, stream)
        if found.retention_seconds is None:
            return 0
        key = trim_key(found.retention_seconds, kronos_time_now())

        def job(conn: sqlite3.Connection) -> int:
            sql = f"DELETE FROM {EVENTS_TABLE} WHERE stream_id = ? AND k < ?"
            return conn.execute(sql, (found.sid, key)).rowcount

        return await self.store.write(job)

    async def get_checkpoints(self, namespace: str, stream: str, group: str) -> dict[int, int]:
        sid = (await self._infos.stream(namespace, stream)).sid
        sql = f"SELECT shard, seq FROM {CHECKPOINTS_TABLE} WHERE stream_id = ? AND grp = ?"
        rows = await self.store.read(lambda c: c.execute(sql, (sid, group)).fetchall())
        return {int(s): int(q) for s, q in rows}

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

        def job(conn: sqlite3.Connection) -> bool:
            check_checkpoint_end(sequence, _bounds(conn, sid, shard)[1])
            if expected is not None:
                row = conn.execute(
                    f"SELECT seq FROM {CHECKPOINTS_TABLE} "
                    "WHERE stream_id = ? AND grp = ? AND shard = ?",
                    (sid, group, shard),
                ).fetchone()
                if not checkpoint_matches(int(row[0]) if row else 0, expected):
                    return False
            conn.execute(
                f"INSERT OR REPLACE INTO {CHECKPOINTS_TABLE} (stream_id, grp, shard, seq) "
                "VALUES (?, ?, ?, ?)",
                (sid, group, shard, sequence),
            )
            return True

        return await self.store.write(job)

    async def get_leases(self, namespace: str, stream: str, group: str) -> dict[int, Lease]:
        sid = (await self._infos.stream(namespace, stream)).sid
        sql = (
            f"SELECT shard, owner, expires_at, version FROM {LEASES_TABLE} "
            "WHERE stream_id = ? AND grp = ?"
        )
        rows = await self.store.read(lambda c: c.execute(sql, (sid, group)).fetchall())
        return {int(s): _lease(int(s), o, int(e), int(v)) for s, o, e, v in rows}

    async def lease_time(self, namespace: str, stream: str) -> int:
        await self._infos.stream(namespace, stream)
        return await self.store.read(_store_now)

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

        def job(conn: sqlite3.Connection) -> Lease | None:
            # The writer thread (and SQLite's write lock across processes) serialises this
            # read-compare-write, which makes it a compare-and-set.
            row = conn.execute(
                f"SELECT owner, expires_at, version FROM {LEASES_TABLE} "
                "WHERE stream_id = ? AND grp = ? AND shard = ?",
                (sid, group, shard),
            ).fetchone()
            stored = None if row is None else _lease(shard, row[0], int(row[1]), int(row[2]))
            expiry = (_store_now(conn), ttl)
            lease = lease_after_cas(stored, shard, owner, expiry, expected_version, claimant)
            if lease is not None:
                conn.execute(
                    f"INSERT OR REPLACE INTO {LEASES_TABLE} "
                    "(stream_id, grp, shard, owner, expires_at, version) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        sid,
                        group,
                        shard,
                        stored_owner(owner, claimant),
                        lease.expires_at,
                        lease.version,
                    ),
                )
            return lease

        return await self.store.write(job)


def _lease(shard: int, owner: str | None, expires_at: int, version: int) -> Lease:
    name, claimant = owner_and_claimant(owner)
    return Lease(shard, name, expires_at, version, claimant)


def _store_now(conn: sqlite3.Connection) -> int:
    """SQLite's own clock (the operating system's, to the millisecond) as kronos time: the
    one every process on this machine shares, whatever a Python process thinks the time is."""
    row = conn.execute("SELECT CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)")
    return int(row.fetchone()[0]) * 10_000


def _first_read(
    conn: sqlite3.Connection,
    *,
    sid: int,
    shard: int,
    position: Position,
    limit: int,
    max_bytes: int,
) -> tuple[int, ReadResult]:
    """Where a read starts (the sequence it goes past) and its first records."""
    trimmed, last = _bounds(conn, sid, shard)
    if position.kind is PositionKind.AT_TIMESTAMP:
        row = conn.execute(
            f"SELECT seq FROM {EVENTS_TABLE} WHERE stream_id = ? AND shard = ? "
            "AND time >= ? ORDER BY seq LIMIT 1",
            (sid, shard, position.value),
        ).fetchone()
        bound = last if row is None else int(row[0]) - 1
    else:
        bound = start_after(position, trimmed, last)
    return bound, _fetch(conn, sid, shard, bound, limit, max_bytes)


def _fetch(
    conn: sqlite3.Connection, sid: int, shard: int, bound: int, limit: int, max_bytes: int
) -> ReadResult:
    cursor = conn.execute(
        f"SELECT seq, partition_key, payload, time, kind FROM {EVENTS_TABLE} "
        "WHERE stream_id = ? AND shard = ? AND seq > ? ORDER BY seq LIMIT ?",
        (sid, shard, bound, limit),
    )
    try:
        # The cursor steps lazily: rows past the byte budget are never read from the file.
        records, _ = take_rows(shard, cursor, ReadBudget(limit, max_bytes))
    finally:
        cursor.close()  # ends the statement, and with it the read snapshot
    if not records:
        return read_result([], bound, None)
    newest = conn.execute(
        f"SELECT time FROM {EVENTS_TABLE} WHERE stream_id = ? AND shard = ? "
        "ORDER BY seq DESC LIMIT 1",
        (sid, shard),
    ).fetchone()
    return read_result(records, bound, int(newest[0]))


def _add_kind_column(conn: sqlite3.Connection) -> None:
    """Files made before ``aion_events.kind`` existed get the column (all rows are events)."""
    columns = {row[1] for row in conn.execute(f"PRAGMA table_info({EVENTS_TABLE})")}
    if "kind" not in columns:
        conn.execute(f"ALTER TABLE {EVENTS_TABLE} ADD COLUMN kind INTEGER NOT NULL DEFAULT 0")
