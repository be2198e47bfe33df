"""The SQLite writer thread outlives callers that go away and jobs that fail."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from aion.core.events import prepare_event
from aion.core.ids import key_range
from aion.errors import BackendUnavailable
from aion.storage.backends.sqlite import SQLiteEventStore
from aion.storage.protocol import flatten


async def _count(store: SQLiteEventStore, stream: str) -> int:
    bounds = key_range(0, 10**9)
    assert bounds is not None
    return len([e async for e in flatten(store.retrieve("ns", stream, *bounds))])


async def test_a_cancelled_write_is_skipped_and_the_writer_lives_on(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "w.db")
    await store.open()
    try:
        blocker = asyncio.create_task(store.write(lambda conn: time.sleep(0.3)))
        await asyncio.sleep(0.05)  # the writer is now busy with the blocker
        doomed = asyncio.create_task(store.insert("ns", "s", [prepare_event({"a": 1}, 1)]))
        await asyncio.sleep(0.05)
        doomed.cancel()  # its caller goes away while the job waits in the queue
        with pytest.raises(asyncio.CancelledError):
            await doomed
        await blocker
        assert await store.insert("ns", "s", [prepare_event({"a": 2}, 2)]) == 1
        assert await _count(store, "s") == 1  # the cancelled write was never run
    finally:
        await store.close()


async def test_a_failing_job_does_not_undo_the_others(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "w.db")
    await store.open()
    try:

        def broken(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO no_such_table VALUES (1)")

        results = await asyncio.gather(
            store.insert("ns", "s", [prepare_event({"a": 1}, 1)]),
            store.write(broken),
            store.insert("ns", "s", [prepare_event({"a": 2}, 2)]),
            return_exceptions=True,
        )
        assert results[0] == 1 and results[2] == 1
        assert isinstance(results[1], BackendUnavailable)
        assert await _count(store, "s") == 2
    finally:
        await store.close()
