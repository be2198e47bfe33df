"""WAL checkpoints off the commit path.

SQLite's default moves the write-ahead log into the database file from inside the COMMIT that
pushes the log past 1,000 pages, and that checkpoint ends with an fsync. With one writer
thread, every request queued behind such a commit waits for the disk: on the development VM
single-event puts at 2,000/s saw 28-38 ms commits a few times a second, which set p99.
:class:`Checkpointer` runs passive checkpoints on its own connection every ``interval``
seconds instead; a passive checkpoint never blocks the writer (SQLite lets the log grow while
it copies). The writer keeps a much larger automatic threshold as a backstop, so the log stays
bounded even if this thread cannot keep up.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

__all__ = ["BACKSTOP_PAGES", "Checkpointer"]

BACKSTOP_PAGES = 16_384
"""The writer's own ``wal_autocheckpoint`` (64 MB of 4 KB pages), in case this thread lags."""

log = logging.getLogger(__name__)


class Checkpointer(threading.Thread):
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval`` seconds until stopped."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], interval: float = 0.2) -> None:
        super().__init__(name="aion-sqlite-checkpoint", daemon=True)
        self._connect = connect
        self.interval = interval
        self.rounds = 0
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            conn = self._connect()
        except sqlite3.Error:
            log.exception("sqlite: the checkpoint thread cannot open the database")
            return
        try:
            while not self._halt.wait(self.interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.rounds += 1
                except sqlite3.Error as exc:  # another process checkpointing, a full disk...
                    log.debug("sqlite: checkpoint skipped: %s", exc)
        finally:
            conn.close()

    def stop(self) -> None:
        """Ask the thread to end after its current checkpoint (join it to wait)."""
        self._halt.set()
