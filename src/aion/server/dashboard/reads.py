"""The dashboard's reads from the event store, each bounded by a cap.

Rates are counted from the store, not from in-process counters: the store is the one place
that sees the writes of every worker process and survives restarts, and a descending read
with a limit costs at most ``cap`` rows per stream (see
:func:`aion.server.dashboard.stats.stream_rate` for how a capped read still gives a rate).
Streams kept by a streams engine of their own (Redis, NATS) are read the same way from that
engine: each shard forward from the window's start, up to a share of the cap, so every server
of a cluster shows the same numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec

from aion.core.events import EventPage, EventRecord
from aion.core.ids import MAX_KRONOS_TIME
from aion.errors import NotFound
from aion.server.dashboard.stats import (
    TICKS_PER_MINUTE,
    StreamRate,
    numeric_value,
    shards_rate,
    stream_rate,
)
from aion.server.reserved import BUCKET_NAMES_STREAM
from aion.server.service import EventService
from aion.streams.protocol import Position, StreamLog

__all__ = [
    "LATEST",
    "BucketName",
    "KeyHistory",
    "bucket_names",
    "key_history",
    "newest_events",
    "record_rates",
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


async def _arrivals(
    log: StreamLog, namespace: str, stream: str, shard: int, span: tuple[int, int], cap: int
) -> list[int]:
    """The arrival times of a shard's records in ``[start, now]``, oldest first, at most
    ``cap``."""
    start, now = span
    times: list[int] = []
    position = Position.at_timestamp(start)
    while len(times) < cap:
        read = await log.read(namespace, stream, shard, position, limit=min(cap - len(times), 1000))
        times.extend(r.arrival_time for r in read.records if r.arrival_time <= now)
        if not read.records or read.records[-1].arrival_time > now:
            break
        position = read.next_position
    return times[:cap]


async def record_rates(
    log: StreamLog, namespace: str, names: list[str], now: int, window_minutes: int, cap: int
) -> dict[str, StreamRate]:
    """The rate of each of the streams engine's streams ``names``: each shard read forward
    from the window's start, up to ``cap`` split evenly over the stream's shards."""
    gate = asyncio.Semaphore(_PARALLEL_READS)
    start = now - window_minutes * TICKS_PER_MINUTE + 1

    async def shard_times(stream: str, shard: int, shard_cap: int) -> list[int]:
        async with gate:
            return await _arrivals(log, namespace, stream, shard, (start, now), shard_cap)

    async def one(stream: str) -> StreamRate | None:
        try:
            async with gate:
                shards = (await log.describe_stream(namespace, stream)).shards
            shard_cap = max(cap // max(len(shards), 1), 1)
            times = await asyncio.gather(*(shard_times(stream, s.shard, shard_cap) for s in shards))
        except NotFound:
            return None  # deleted since it was listed
        return shards_rate(times, now, window_minutes, shard_cap)

    rates = await asyncio.gather(*(one(s) for s in names))
    return {name: rate for name, rate in zip(names, rates, strict=True) if rate is not None}


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
