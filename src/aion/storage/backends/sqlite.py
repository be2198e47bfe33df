"""The embedded SQLite EventStore: WAL, one writer thread with group commit, pooled readers.

Writes from every request go to one thread that drains its queue and commits everything it
took in one transaction (group commit): throughput grows with concurrency while each request
is acknowledged only after its commit. Each write runs in its own savepoint, so one failing
request does not undo the others. Reads run on their own read-only connections in a thread
pool, a page at a time, so nothing blocking runs on the event loop and results stream out.
Several processes may share one file: SQLite's locks serialise their writers
(``BEGIN IMMEDIATE`` with a busy timeout). A write that fails for a reason of SQLite's (a full
disk) is remembered until a write succeeds, so readiness can say so (``write_problem``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import itertools
import logging
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from aion.core.events import LINE_END, EventPage, EventRecord, LinesPage
from aion.errors import BackendUnavailable
from aion.storage.backends.sqlite_checkpoint import BACKSTOP_PAGES, Checkpointer
from aion.storage.batches import BatchIds, prune_sql, record_sql
from aion.storage.outages import WriteFailures
from aion.storage.paging import KeyedPage, keyset_pages
from aion.storage.placement import assign_shards, event_rows, sequence_numbers, shard_counts
from aion.storage.schema import (
    EVENTS_TABLE,
    SHARDS_TABLE,
    SQLITE_DDL,
    STREAMS_TABLE,
    WRITE_PROBE_TABLE,
)

__all__ = ["SQLiteEventStore"]

log = logging.getLogger("aion.storage.backends.sqlite")

T = TypeVar("T")
_PAGE = 2000
_RECORD_BATCH = record_sql("?")
_PRUNE_BATCHES = prune_sql("?")
_MAX_GROUP = 256
_BUSY_TIMEOUT_MS = 30_000
_PROBE_BYTES = 8192  # a write probe needs new pages, as a put does


class _Writer(threading.Thread):
    """The one thread that writes; it commits every queued operation in one transaction."""

    def __init__(self, path: str, synchronous: str) -> None:
        super().__init__(name="aion-sqlite-writer", daemon=True)
        self._path = path
        self._synchronous = synchronous
        self._jobs: queue.SimpleQueue[
            tuple[Callable[[sqlite3.Connection], Any], concurrent.futures.Future[Any]] | None
        ] = queue.SimpleQueue()
        self.ready = concurrent.futures.Future[None]()

    def submit(self, job: Callable[[sqlite3.Connection], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((job, future))
        return future

    def stop(self) -> None:
        self._jobs.put(None)

    @property
    def depth(self) -> int:
        """Writes waiting in the queue (approximate; for metrics)."""
        return self._jobs.qsize()

    def run(self) -> None:
        try:
            conn = connect(self._path, self._synchronous)
            conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
            conn.execute(f"PRAGMA journal_size_limit = {BACKSTOP_PAGES * 4096}")
            conn.executescript(SQLITE_DDL)
        except sqlite3.Error as exc:
            self.ready.set_exception(exc)
            return
        checkpointer = Checkpointer(lambda: connect(self._path, self._synchronous))
        checkpointer.start()
        self.ready.set_result(None)
        try:
            self._loop(conn)
        finally:
            checkpointer.stop()
            checkpointer.join()
            conn.close()

    def _loop(self, conn: sqlite3.Connection) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            group = [first]
            stopping = False
            while len(group) < _MAX_GROUP:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
            try:
                self._commit_group(conn, group)
            except Exception as exc:  # the writer must outlive any one group
                log.exception("sqlite: a group commit failed unexpectedly")
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
            if stopping:
                return

    def _commit_group(
        self,
        conn: sqlite3.Connection,
        group: list[tuple[Callable[[sqlite3.Connection], Any], concurrent.futures.Future[Any]]],
    ) -> None:
        # A request whose caller has gone (its future cancelled) is not run; a running one can
        # no longer be cancelled, so setting its outcome below cannot fail.
        group = [(job, future) for job, future in group if future.set_running_or_notify_cancel()]
        if not group:
            return
        outcomes: list[tuple[concurrent.futures.Future[Any], bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, future in group:
                conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((future, True, job(conn)))
                    conn.execute("RELEASE job")
                except Exception as exc:  # one failing request must not undo the others
                    if not conn.in_transaction:
                        # SQLite rolled the whole transaction back itself (a full disk, an I/O
                        # error): the group is undone and fails with this job's error.
                        raise
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((future, False, exc))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("sqlite: rollback after a failed group commit failed")
            for _, future in group:
                future.set_exception(exc)
            return
        # Acknowledge only after the commit.
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


_ROWS_PER_STATEMENT = 500
_INSERT_HEAD = (
    f"INSERT OR REPLACE INTO {EVENTS_TABLE} "
    "(stream_id, k, time, shard, seq, partition_key, payload) VALUES "
)


@functools.lru_cache(maxsize=16)
def _insert_sql(rows: int) -> str:
    return _INSERT_HEAD + ",".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)


def insert_rows(conn: sqlite3.Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert event rows with multi-row statements.

    One statement per 500 rows steps SQLite once per 500 rows instead of once per row, so
    the writer thread gives up and takes back the GIL far less often while request handlers
    run on the event loop (with ``executemany`` each row's step is a GIL hand-off).
    """
    batch = list(itertools.islice(iter_rows := iter(rows), _ROWS_PER_STATEMENT))
    while batch:
        conn.execute(_insert_sql(len(batch)), list(itertools.chain.from_iterable(batch)))
        batch = list(itertools.islice(iter_rows, _ROWS_PER_STATEMENT))


def connect(path: str, synchronous: str = "NORMAL", readonly: bool = False) -> sqlite3.Connection:
    """A connection with Aion's pragmas (WAL, busy timeout, autocommit handled by us)."""
    uri = f"file:{path}{'?mode=ro' if readonly else ''}"
    conn = sqlite3.connect(
        uri,
        uri=True,
        isolation_level=None,
        check_same_thread=False,
        timeout=_BUSY_TIMEOUT_MS / 1000,
    )
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


P = TypeVar("P", bound=KeyedPage)


def _event_page(rows: list[Any]) -> EventPage:
    return EventPage.from_rows(rows)


def _lines_page(rows: list[Any]) -> LinesPage:
    [(lines, last_key, count)] = rows
    return LinesPage(lines + LINE_END, count, last_key) if count else LinesPage(b"", 0, b"")


class SQLiteEventStore:
    """Events in one SQLite file. ``synchronous`` is SQLite's pragma: NORMAL (the default)
    survives a crash of the process; FULL also survives a power cut."""

    def __init__(self, path: str | Path, synchronous: str = "NORMAL", readers: int = 4) -> None:
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous}")
        self.path = str(path)
        self.synchronous = synchronous.upper()
        self._readers = readers
        self._writer: _Writer | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._read_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._batch_ids = BatchIds()
        self._writes = WriteFailures("sqlite")

    async def open(self) -> None:
        if self._writer is not None:
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        writer = _Writer(self.path, self.synchronous)
        writer.start()
        try:
            await asyncio.wrap_future(writer.ready)
        except sqlite3.Error as exc:
            raise BackendUnavailable("sqlite", f"cannot open {self.path}: {exc}") from exc
        self._writer = writer
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._readers, thread_name_prefix="aion-sqlite-reader"
        )

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()
            await asyncio.to_thread(writer.join)
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        with self._lock:
            for conn in self._read_conns:
                conn.close()
            self._read_conns.clear()
        self._local = threading.local()

    # -- plumbing -------------------------------------------------------------------------

    async def write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` on the writer thread inside the next group commit."""
        if self._writer is None:
            raise BackendUnavailable("sqlite", "the store is not open")
        try:
            result = await asyncio.wrap_future(self._writer.submit(job))
        except sqlite3.OperationalError as exc:
            self._writes.failed(_write_problem(exc))
            raise BackendUnavailable("sqlite", str(exc)) from exc
        self._writes.succeeded()
        return result

    async def read(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` on a pooled read-only connection."""
        if self._pool is None:
            raise BackendUnavailable("sqlite", "the store is not open")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, self._run_read, job)
        except sqlite3.OperationalError as exc:
            raise BackendUnavailable("sqlite", str(exc)) from exc

    def _run_read(self, job: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            self._local.conn = conn
            with self._lock:
                self._read_conns.append(conn)
        return job(conn)

    @staticmethod
    def stream_id(conn: sqlite3.Connection, namespace: str, stream: str) -> tuple[int, int]:
        """The id and shard count of a stream, created (one shard) on first use; call on the
        writer thread, inside the write's transaction.

        Looked up every time rather than cached: another process sharing the file may delete
        the stream and create it again under a new id, and a cached id would then send
        acknowledged events to rows no name leads to. The lookup is one index seek.
        """
        sql = f"SELECT id, shards FROM {STREAMS_TABLE} WHERE namespace = ? AND name = ?"
        row = conn.execute(sql, (namespace, stream)).fetchone()
        if row is None:
            conn.execute(
                f"INSERT INTO {STREAMS_TABLE} (namespace, name) VALUES (?, ?)", (namespace, stream)
            )
            row = conn.execute(sql, (namespace, stream)).fetchone()
        return int(row[0]), int(row[1])

    @property
    def queue_depth(self) -> int:
        """Writes queued for the writer thread and not yet taken into a commit."""
        writer = self._writer
        return 0 if writer is None else writer.depth

    @staticmethod
    def _existing_stream_id(conn: sqlite3.Connection, namespace: str, stream: str) -> int | None:
        row = conn.execute(
            f"SELECT id FROM {STREAMS_TABLE} WHERE namespace = ? AND name = ?", (namespace, stream)
        ).fetchone()
        return None if row is None else int(row[0])

    # -- the contract ---------------------------------------------------------------------

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

        def job(conn: sqlite3.Connection) -> int:
            if remember is not None:
                seen = conn.execute(_RECORD_BATCH, (namespace, stream, *remember)).rowcount == 0
                if seen:
                    return 0
                if self._batch_ids.prune_due():
                    conn.execute(_PRUNE_BATCHES, (self._batch_ids.cutoff(),))
            sid, shards = self.stream_id(conn, namespace, stream)
            placed = assign_shards(page, shards)
            last: dict[int, int] = {}
            for shard, n in shard_counts(placed).items():
                conn.execute(
                    f"INSERT OR IGNORE INTO {SHARDS_TABLE} (stream_id, shard) VALUES (?, ?)",
                    (sid, shard),
                )
                (last[shard],) = conn.execute(
                    f"UPDATE {SHARDS_TABLE} SET last_seq = last_seq + ? "
                    "WHERE stream_id = ? AND shard = ? RETURNING last_seq",
                    (n, sid, shard),
                ).fetchone()
            seqs = sequence_numbers(placed, last)
            insert_rows(conn, event_rows(sid, page, placed, seqs))
            return len(page)

        return await self.write(job)

    def retrieve(
        self,
        namespace: str,
        stream: str,
        low: bytes,
        high: bytes,
        *,
        descending: bool = False,
        limit: int | None = None,
    ) -> AsyncIterator[EventPage]:
        order = "DESC" if descending else "ASC"
        sql = (
            f"SELECT k, time, payload FROM {EVENTS_TABLE} "
            f"WHERE stream_id = ? AND k >= ? AND k <= ? ORDER BY k {order} LIMIT ?"
        )
        return self._pages(namespace, stream, low, high, descending, limit, sql, _event_page)

    def retrieve_lines(
        self,
        namespace: str,
        stream: str,
        low: bytes,
        high: bytes,
        *,
        descending: bool = False,
        limit: int | None = None,
    ) -> AsyncIterator[LinesPage]:
        """As ``retrieve``, each page as one buffer of lines that SQLite builds in one step,
        with the GIL released, instead of a Python object per row. The aggregate reads the
        ordered, limited subquery in its order (a LIMIT subquery is never flattened into an
        aggregate); the conformance suite checks the order across many pages both ways."""
        order, last = ("DESC", "min") if descending else ("ASC", "max")
        sql = (
            f"SELECT CAST(group_concat(payload, char(13, 10)) AS BLOB), {last}(k), count(*) "
            f"FROM (SELECT k, payload FROM {EVENTS_TABLE} "
            f"WHERE stream_id = ? AND k >= ? AND k <= ? ORDER BY k {order} LIMIT ?)"
        )
        return self._pages(namespace, stream, low, high, descending, limit, sql, _lines_page)

    async def _pages(
        self,
        namespace: str,
        stream: str,
        low: bytes,
        high: bytes,
        descending: bool,
        limit: int | None,
        sql: str,
        build: Callable[[list[Any]], P],
    ) -> AsyncIterator[P]:
        """Keyset pages of ``sql`` (bound to stream id, low, high, size), each made by
        ``build`` from the fetched rows on the reading thread."""
        if limit is not None and limit <= 0:
            return
        sid = await self.read(lambda c: self._existing_stream_id(c, namespace, stream))
        if sid is None:
            return

        async def fetch(lo: bytes, hi: bytes, size: int) -> P:
            def job(conn: sqlite3.Connection) -> P:
                return build(conn.execute(sql, (sid, lo, hi, size)).fetchall())

            return await self.read(job)

        async for page in keyset_pages(
            fetch, low, high, descending=descending, limit=limit, page_size=_PAGE
        ):
            yield page

    async def delete(self, namespace: str, stream: str, low: bytes, high: bytes) -> int:
        def job(conn: sqlite3.Connection) -> int:
            sid = self._existing_stream_id(conn, namespace, stream)
            if sid is None:
                return 0
            cursor = conn.execute(
                f"DELETE FROM {EVENTS_TABLE} WHERE stream_id = ? AND k >= ? AND k <= ?",
                (sid, low, high),
            )
            return cursor.rowcount

        return await self.write(job)

    async def list_streams(self, namespace: str) -> list[str]:
        sql = (
            f"SELECT name FROM {STREAMS_TABLE} s WHERE namespace = ? AND EXISTS "
            f"(SELECT 1 FROM {EVENTS_TABLE} e WHERE e.stream_id = s.id) ORDER BY name"
        )
        rows = await self.read(lambda c: c.execute(sql, (namespace,)).fetchall())
        return [r[0] for r in rows]

    async def is_alive(self) -> bool:
        if self._writer is None or not self._writer.is_alive():
            return False
        try:
            await self.read(lambda c: c.execute("SELECT 1").fetchone())
        except BackendUnavailable:
            return False
        return True

    async def write_problem(self) -> str | None:
        if self._writes.problem is not None:
            with contextlib.suppress(BackendUnavailable):
                await self.write(_probe_write)  # success clears the problem
        return self._writes.problem


def _write_problem(exc: sqlite3.OperationalError) -> str:
    """What a failed write says about the store (a full disk is SQLITE_FULL, as is a file at
    its ``max_page_count``)."""
    if getattr(exc, "sqlite_errorname", None) == "SQLITE_FULL":
        return "disk full"
    return str(exc)


def _probe_write(conn: sqlite3.Connection) -> None:
    """A small write that needs free pages, as a put does, committed with the writer's next
    group; it leaves the table empty."""
    conn.execute(f"INSERT INTO {WRITE_PROBE_TABLE} VALUES (zeroblob(?))", (_PROBE_BYTES,))
    conn.execute(f"DELETE FROM {WRITE_PROBE_TABLE}")
