"""WAL checkpoints run on their own thread, not inside the writer's commits."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from aion.core.events import prepare_event
from aion.storage.backends.sqlite import SQLiteEventStore, connect
from aion.storage.backends.sqlite_checkpoint import BACKSTOP_PAGES, Checkpointer


def _threads() -> set[str]:
    return {thread.name for thread in threading.enumerate()}


def test_checkpointer_moves_the_log_into_the_database(tmp_path: Path) -> None:
    path = str(tmp_path / "c.db")
    writer = connect(path)
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # only the checkpointer moves pages
    writer.execute("CREATE TABLE t (x BLOB)")
    for _ in range(20):
        writer.execute("INSERT INTO t VALUES (?)", (b"x" * 100_000,))
    before = Path(path).stat().st_size
    checkpointer = Checkpointer(lambda: connect(path), interval=0.02)
    checkpointer.start()
    try:
        # The pages reach the file during a round and the round is counted after it: wait
        # for both, with room for a loaded machine.
        def done() -> bool:
            return Path(path).stat().st_size > before + 1_000_000 and checkpointer.rounds >= 1

        deadline = time.monotonic() + 60
        while not done() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert Path(path).stat().st_size > before + 1_000_000  # the rows reached the file
        assert checkpointer.rounds >= 1
    finally:
        checkpointer.stop()
        checkpointer.join(5)
    assert not checkpointer.is_alive()
    writer.close()


def test_checkpointer_survives_an_unopenable_database(tmp_path: Path) -> None:
    def refuse() -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    checkpointer = Checkpointer(refuse, interval=0.01)
    checkpointer.start()
    checkpointer.join(5)
    assert not checkpointer.is_alive()  # it ends quietly; the writer's backstop remains


async def test_the_store_runs_a_checkpointer_while_open(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.db")
    await store.open()
    try:
        assert "aion-sqlite-checkpoint" in _threads()
        await store.insert("ns", "s", [prepare_event({"n": i}, now=i + 1) for i in range(100)])

        def autocheckpoint(conn: sqlite3.Connection) -> int:
            return int(conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])

        assert await store.write(autocheckpoint) == BACKSTOP_PAGES
    finally:
        await store.close()
    assert "aion-sqlite-checkpoint" not in _threads()
