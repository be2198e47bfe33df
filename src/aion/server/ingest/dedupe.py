"""Dropping duplicate batches: a bounded LRU of recent batch ids, and of those in progress.

Clients send ``X-Aion-Batch-Id`` and reuse it when they retry. A retry that arrives after the
first attempt was stored is acknowledged without storing again; one that arrives while the first
attempt is still being stored waits for it and shares its outcome. Only successes are
remembered, so a batch whose first attempt failed can be stored by its retry. This memory is
per process and bounded; it answers most retries without touching the store. Behind it, the
stores record each batch id with the events (``aion.storage.batches``), so a retry that reaches
another worker process or a restarted server, or a replay days later, is not stored twice.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aion.storage.batches import is_remembered

__all__ = ["BATCH_ID_HEADER", "BatchDeduplicator"]

BATCH_ID_HEADER = "X-Aion-Batch-Id"


class BatchDeduplicator:
    """Runs a store step at most once per ``(scope, batch_id)`` among the recent ones."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._done: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._running: dict[tuple[str, str], asyncio.Future[None]] = {}

    def seen(self, scope: str, batch_id: str) -> bool:
        """True when this batch was stored recently."""
        return (scope, batch_id) in self._done

    async def run_once(
        self, scope: str, batch_id: str | None, store: Callable[[], Awaitable[None]]
    ) -> bool:
        """Run ``store`` unless the batch was stored already; True when it ran now.

        Without a batch id (or with an absurd one) ``store`` always runs.
        """
        if not is_remembered(batch_id):
            await store()
            return True
        key = (scope, batch_id)
        while True:
            if key in self._done:
                self._done.move_to_end(key)
                return False
            running = self._running.get(key)
            if running is None:
                break
            try:
                await asyncio.shield(running)
            except Exception:
                continue  # the first attempt failed: loop, and try to store it ourselves
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            await store()
        except BaseException as exc:
            future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            future.exception()  # mark retrieved: waiters may be none
            raise
        else:
            future.set_result(None)
            self._remember(key)
        finally:
            self._running.pop(key, None)
        return True

    def _remember(self, key: tuple[str, str]) -> None:
        done = self._done
        done[key] = None
        done.move_to_end(key)
        while len(done) > self.capacity:
            done.popitem(last=False)
