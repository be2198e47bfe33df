"""The in-memory reference EventStore: a sorted list per stream, capped, dropping the oldest."""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator, Sequence

from aion.core.events import EventPage, EventRecord
from aion.storage.batches import is_remembered
from aion.storage.paging import keyset_pages

__all__ = ["MemoryEventStore"]

_PAGE = 1000


_BATCH_IDS_KEPT = 100_000
"""Batch ids remembered per stream (the oldest are forgotten first)."""


class _StreamEvents:
    __slots__ = ("batch_ids", "keys", "records")

    def __init__(self) -> None:
        self.keys: list[bytes] = []
        self.records: dict[bytes, EventRecord] = {}
        self.batch_ids: dict[str, None] = {}


class MemoryEventStore:
    """Events in process memory. ``max_items`` caps each stream; the lowest ids go first."""

    def __init__(self, max_items: int | None = None) -> None:
        if max_items is not None and max_items < 1:
            raise ValueError("max_items must be a positive integer")
        self.max_items = max_items
        self._streams: dict[tuple[str, str], _StreamEvents] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def insert(
        self,
        namespace: str,
        stream: str,
        events: EventPage | Sequence[EventRecord],
        batch_id: str | None = None,
    ) -> int:
        held = self._streams.setdefault((namespace, stream), _StreamEvents())
        if is_remembered(batch_id) and len(events):
            if batch_id in held.batch_ids:
                return 0
            held.batch_ids[batch_id] = None
            while len(held.batch_ids) > _BATCH_IDS_KEPT:
                del held.batch_ids[next(iter(held.batch_ids))]
        for record in events:
            if record.key not in held.records:
                bisect.insort(held.keys, record.key)
            held.records[record.key] = record
        if self.max_items is not None and len(held.keys) > self.max_items:
            excess = len(held.keys) - self.max_items
            for key in held.keys[:excess]:
                del held.records[key]
            del held.keys[:excess]
        return len(events)

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
        held = self._streams.get((namespace, stream))
        if held is None:
            return

        async def fetch(lo: bytes, hi: bytes, size: int) -> EventPage:
            # Bisected afresh for each page, so concurrent inserts and deletes cannot shift it.
            start = bisect.bisect_left(held.keys, lo)
            stop = bisect.bisect_right(held.keys, hi)
            if descending:
                keys = held.keys[max(start, stop - size) : stop][::-1]
            else:
                keys = held.keys[start : min(stop, start + size)]
            return EventPage.from_records([held.records[key] for key in keys])

        async for page in keyset_pages(
            fetch, low, high, descending=descending, limit=limit, page_size=_PAGE
        ):
            yield page

    async def delete(self, namespace: str, stream: str, low: bytes, high: bytes) -> int:
        held = self._streams.get((namespace, stream))
        if held is None:
            return 0
        start = bisect.bisect_left(held.keys, low)
        stop = bisect.bisect_right(held.keys, high)
        for key in held.keys[start:stop]:
            del held.records[key]
        del held.keys[start:stop]
        return stop - start

    async def list_streams(self, namespace: str) -> list[str]:
        return sorted(s for (ns, s), held in self._streams.items() if ns == namespace and held.keys)

    async def is_alive(self) -> bool:
        return True
