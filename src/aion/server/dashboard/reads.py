"""The dashboard's reads from the event store, each bounded by a cap.

Rates are counted from the store, not from in-process counters: the store is the one place
that sees the writes of every worker process and survives restarts, and a descending read
with a limit costs at most ``cap`` rows per stream (see
:func:`aion.server.dashboard.stats.stream_rate` for how a capped read still gives a rate).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from aion.core.events import EventPage, EventRecord
from aion.core.ids import MAX_KRONOS_TIME
from aion.server.dashboard.stats import (
    TICKS_PER_MINUTE,
    StreamRate,
    numeric_value,
    stream_rate,
)
from aion.server.service import EventService

__all__ = [
    "LATEST",
    "key_history",
    "newest_events",
    "records",
    "stream_rates",
]

LATEST = MAX_KRONOS_TIME
_decode = msgspec.json.Decoder().decode
# Concurrent per-stream reads while listing rates: enough to overlap I/O, few enough not to
# crowd out the writers sharing the store.
_PARALLEL_READS = 8


async def records(answer: AsyncIterator[EventPage]) -> AsyncIterator[EventRecord]:
    """The events of a retrieve answer one by one (stores hand them over in pages)."""
    async for page in answer:
        for record in page:
            yield record


async def _times(
    service: EventService, namespace: str, stream: str, now: int, window_minutes: int, cap: int
) -> list[int]:
    start = now - window_minutes * TICKS_PER_MINUTE + 1
    answer = service.retrieve(namespace, stream, start, now, descending=True, limit=cap)
    # Only the times are needed: take the page's column, no per-event objects.
    return [t async for page in answer for t in page.times]


async def stream_rates(
    service: EventService,
    namespace: str,
    now: int,
    window_minutes: int,
    cap: int,
    max_streams: int,
) -> tuple[dict[str, StreamRate], bool]:
    """Each stream's rate (at most ``max_streams`` streams, by name), and whether some streams
    were left out."""
    names = await service.list_streams(namespace)
    shown = names[:max_streams]
    gate = asyncio.Semaphore(_PARALLEL_READS)

    async def one(stream: str) -> StreamRate:
        async with gate:
            times = await _times(service, namespace, stream, now, window_minutes, cap)
        return stream_rate(times, now, window_minutes, cap)

    rates = await asyncio.gather(*(one(s) for s in shown))
    return dict(zip(shown, rates, strict=True)), len(names) > len(shown)


async def newest_events(
    service: EventService, namespace: str, stream: str, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` events of a stream, newest first, decoded."""
    answer = service.retrieve(namespace, stream, 0, LATEST, descending=True, limit=limit)
    found: list[dict[str, Any]] = []
    async for record in records(answer):
        event = _decode(record.payload)
        if isinstance(event, dict):
            found.append(event)
    return found


async def key_history(
    service: EventService, namespace: str, stream: str, key: str, start: int, end: int, cap: int
) -> tuple[list[tuple[int, float]], bool]:
    """The numeric values of one bucket key in ``[start, end]``, oldest first, from the newest
    ``cap`` events of the range; and whether the cap cut older events off."""
    answer = service.retrieve(namespace, stream, start, end, descending=True, limit=cap)
    points: list[tuple[int, float]] = []
    scanned = 0
    async for record in records(answer):
        scanned += 1
        event = _decode(record.payload)
        if not isinstance(event, dict) or event.get("key") != key:
            continue
        number = numeric_value(event.get("value"))
        if number is not None:
            points.append((record.time, number))
    points.reverse()
    return points, scanned >= cap
