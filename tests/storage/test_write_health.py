"""A store whose writes fail (a full disk) says so until a write works again.

SQLite's ``max_page_count`` (a setting of the writer's connection) makes writes fail with
SQLITE_FULL, the error a full disk gives, without filling a disk. In PostgreSQL a trigger
raises SQLSTATE 53100 (``disk_full``), the error of a table that cannot grow.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from aion.core.events import EventRecord, prepare_event
from aion.errors import BackendUnavailable
from aion.storage.backends.postgres import PostgresEventStore
from aion.storage.backends.sqlite import SQLiteEventStore


def big_event() -> list[EventRecord]:
    return [prepare_event({"pad": "x" * 50_000}, now=1)]  # needs new pages


def cap_pages(limit: int | None) -> Callable[[sqlite3.Connection], None]:
    """A writer job: cap the file at ``limit`` pages (None: at its size now)."""

    def job(conn: sqlite3.Connection) -> None:
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        conn.execute(f"PRAGMA max_page_count = {pages if limit is None else limit}")

    return job


async def test_a_full_sqlite_file_is_reported_until_a_write_works(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "full.db")
    await store.open()
    try:
        assert await store.insert("ns", "s", [prepare_event({"a": 1}, now=1)]) == 1
        assert await store.write_problem() is None
        await store.write(cap_pages(None))
        with pytest.raises(BackendUnavailable, match="full"):
            await store.insert("ns", "s", big_event())
        assert await store.is_alive()  # it still answers reads ...
        assert await store.write_problem() == "disk full"  # ... but cannot write
        assert await store.write_problem() == "disk full"  # the probe write fails as well

        def lift_and_fail(conn: sqlite3.Connection) -> None:
            # Room again, but this write fails: only the probe can see that writes work.
            conn.execute("PRAGMA max_page_count = 1000000000")
            raise sqlite3.OperationalError("a failure of this job")

        with pytest.raises(BackendUnavailable):
            await store.write(lift_and_fail)
        assert await store.write_problem() is None  # the probe write succeeded
        probes = await store.read(lambda c: c.execute("SELECT count(*) FROM aion_write_probe"))
        assert probes.fetchone() == (0,)  # and left nothing behind
        assert await store.insert("ns", "s", big_event()) == 1
    finally:
        await store.close()


async def test_a_successful_write_clears_the_problem(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "full.db")
    await store.open()
    try:
        await store.write(cap_pages(None))
        with pytest.raises(BackendUnavailable):
            await store.insert("ns", "s", big_event())
        await store.write(cap_pages(1_000_000_000))
        assert await store.insert("ns", "s", big_event()) == 1
        assert await store.write_problem() is None
    finally:
        await store.close()


_FULL = """
CREATE FUNCTION aion_test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
END $$;
CREATE TRIGGER aion_test_full_events BEFORE INSERT ON aion_events
    FOR EACH ROW EXECUTE FUNCTION aion_test_disk_full();
CREATE TRIGGER aion_test_full_probe BEFORE INSERT ON aion_write_probe
    FOR EACH ROW EXECUTE FUNCTION aion_test_disk_full();
"""
_ROOM = """
DROP TRIGGER IF EXISTS aion_test_full_events ON aion_events;
DROP TRIGGER IF EXISTS aion_test_full_probe ON aion_write_probe;
DROP FUNCTION IF EXISTS aion_test_disk_full();
"""


@pytest.mark.service
async def test_a_full_postgresql_disk_is_reported_until_a_probe_write_works(
    postgres_url: str,
) -> None:
    store = PostgresEventStore(postgres_url)
    await store.open()
    try:
        assert await store.write_problem() is None
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(_FULL)
        with pytest.raises(BackendUnavailable, match="No space left"):
            await store.insert("ns", "full", [prepare_event({"a": 1}, now=1)])
        assert not store.breaker.is_open  # the connection works: no outage
        assert await store.is_alive()
        assert await store.write_problem() == "disk full"  # the probe write fails as well
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(_ROOM)
    try:
        assert await store.write_problem() is None  # the probe write works again
        assert await store.insert("ns", "full", [prepare_event({"a": 1}, now=1)]) == 1
    finally:
        await store.close()
