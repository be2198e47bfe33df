"""Batch ids kept beside the events, so a retried batch is stored once across processes.

Shippers send ``X-Aion-Batch-Id`` and reuse it on every retry and replay. The server's
in-process memory of recent ids (``aion.server.ingest.dedupe``) answers most retries at once, but a
retry can reach another worker process, or a server restarted meanwhile. A store given a batch
id therefore records it in the same transaction as the events, and stores nothing when the id
is already there for that stream. Ids older than ``RETENTION_SECONDS`` are pruned now and then.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeGuard

from aion.storage.schema import BATCHES_TABLE

__all__ = [
    "MAX_BATCH_ID_LENGTH",
    "PRUNE_EVERY",
    "RETENTION_SECONDS",
    "BatchIds",
    "is_remembered",
    "prune_sql",
    "record_sql",
]

RETENTION_SECONDS = 7 * 24 * 3600
"""How long a batch id is remembered: longer than any spool is expected to wait for replay."""

PRUNE_EVERY = 1_000
"""Prune old ids once per this many batches written with an id (per store object)."""

MAX_BATCH_ID_LENGTH = 128
"""Longer ids are not remembered (the batch is stored as if it had none)."""


def is_remembered(batch_id: str | None) -> TypeGuard[str]:
    """Whether a batch id is one to remember: present, and not absurdly long."""
    return batch_id is not None and 0 < len(batch_id) <= MAX_BATCH_ID_LENGTH


def record_sql(placeholder: str) -> str:
    """Insert ``(namespace, stream, batch_id, stored_at)`` unless present; affects 0 rows then."""
    p = placeholder
    return (
        f"INSERT INTO {BATCHES_TABLE} (namespace, stream, batch_id, stored_at) "
        f"VALUES ({p}, {p}, {p}, {p}) ON CONFLICT (namespace, stream, batch_id) DO NOTHING"
    )


def prune_sql(placeholder: str) -> str:
    """Delete the ids stored before a cutoff (seconds since the epoch)."""
    return f"DELETE FROM {BATCHES_TABLE} WHERE stored_at < {placeholder}"


class BatchIds:
    """A SQL store's bookkeeping for batch ids: which to record, and when to prune."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._written = 0

    def admit(self, batch_id: str | None) -> tuple[str, int] | None:
        """``(batch_id, stored_at)`` to record, or None for no id (or an absurdly long one)."""
        if not is_remembered(batch_id):
            return None
        return batch_id, int(self._clock())

    def prune_due(self) -> bool:
        """Count one recorded id; True on the first and then every ``PRUNE_EVERY``-th."""
        self._written += 1
        return self._written % PRUNE_EVERY == 1

    def cutoff(self) -> int:
        """Ids stored before this time (seconds since the epoch) are forgotten."""
        return int(self._clock()) - RETENTION_SECONDS
