"""The dashboard's reads from the event store, each bounded by a cap.

Rates are counted from the store, not from in-process counters: the store is the one place
that sees the writes of every worker process and survives restarts, and a descending read
with a limit costs at most ``cap`` rows per stream (see
:func:`aion.server.dashboard.stats.stream_rate` for how a capped read still gives a rate).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
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
from aion.server.reserved import BUCKET_NAMES_STREAM
from aion.server.service import EventService

__all__ = [
    "LATEST",
    "BucketName",
    "KeyHistory",
    "bucket_names",
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


@dataclass(frozen=True, slots=True)
class KeyHistory:
    """One bucket key's values over a range, oldest first: the numbers (booleans as 0/1) to
    chart, the newest text values to list as a log, and whether the scan cap cut older events
    off."""

    points: list[tuple[int, float]]
    texts: list[tuple[int, str]]
    truncated: bool


async def key_history(
    service: EventService,
    namespace: str,
    stream: str,
    key: str,
    span: tuple[int, int],
    cap: int,
    max_texts: int,
) -> KeyHistory:
    """The values of one bucket key in ``span`` (``[start, end]``) from the newest ``cap``
    events of the range: every numeric one, and the newest ``max_texts`` text ones."""
    start, end = span
    answer = service.retrieve(namespace, stream, start, end, descending=True, limit=cap)
    points: list[tuple[int, float]] = []
    texts: list[tuple[int, str]] = []
    scanned = 0
    async for record in records(answer):
        scanned += 1
        event = _decode(record.payload)
        if not isinstance(event, dict) or event.get("key") != key:
            continue
        value = event.get("value")
        number = numeric_value(value)
        if number is not None:
            points.append((record.time, number))
        elif isinstance(value, str) and len(texts) < max_texts:
            texts.append((record.time, value))
    points.reverse()
    texts.reverse()
    return KeyHistory(points, texts, scanned >= cap)


@dataclass(frozen=True, slots=True)
class BucketName:
    """An Initial State bucket as ``/api/buckets`` recorded it: its stream, key and name."""

    stream: str
    key: str
    name: str


async def bucket_names(service: EventService, namespace: str, limit: int) -> dict[str, BucketName]:
    """Per stream, the newest name recorded for its bucket, from the newest ``limit`` records
    of the namespace's bucket names (see :mod:`aion.server.reserved`)."""
    found: dict[str, BucketName] = {}
    for event in await newest_events(service, namespace, BUCKET_NAMES_STREAM, limit):
        stream, key, name = event.get("stream"), event.get("bucketKey"), event.get("bucketName")
        if isinstance(stream, str) and isinstance(key, str) and isinstance(name, str):
            found.setdefault(stream, BucketName(stream, key, name))
    return found
