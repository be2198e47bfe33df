"""Rollups of a stream's numbers for the dashboard's timeseries charts, via ``aion.timeseries``.

The page picks a stream, a numeric field (for an Initial State bucket: ``value``, filtered to
one ``key``), an interval and a transform. The events of the interval's window (at most
``cap``, newest first) are written into an in-memory ``series`` Timeseries and read back with
the transform, so the dashboard buckets and reduces exactly as stored rollups do. Nothing is
kept between requests: the store is the source of truth.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import msgspec

from aion.core.time import TICKS_PER_SECOND
from aion.errors import ValidationError
from aion.server.dashboard.reads import records
from aion.server.dashboard.stats import numeric_value
from aion.server.service import EventService
from aion.timeseries import Timeseries

__all__ = ["INTERVALS", "TRANSFORMS", "Rollup", "RollupInterval", "rollup"]

_decode = msgspec.json.Decoder().decode
_NAME = "field"


@dataclass(frozen=True, slots=True)
class RollupInterval:
    """An interval the page offers: its Timeseries step and how many buckets a chart shows."""

    step: int | str
    seconds: int
    buckets: int


INTERVALS: dict[str, RollupInterval] = {
    "minute": RollupInterval(60, 60, 60),
    "5min": RollupInterval(300, 300, 72),
    "hour": RollupInterval(3600, 3600, 48),
    "day": RollupInterval("daily", 86_400, 30),
}
TRANSFORMS = ("mean", "min", "max", "sum", "count", "rate")


@dataclass(frozen=True, slots=True)
class Rollup:
    """Per bucket (start in epoch seconds, oldest first) the transformed value, or None for a
    bucket without events (whatever the transform: an empty bucket is not a zero)."""

    points: list[tuple[int, float | None]]
    scanned: int
    truncated: bool


def _compute(
    values: list[tuple[int, float]], interval: str, transform: str, start: int, end: int
) -> list[tuple[int, float | None]]:
    spec = INTERVALS[interval]
    with Timeseries(
        "memory://", type="series", intervals={interval: {"step": spec.step}}
    ) as series:
        by_time: dict[int, dict[str, list[float]]] = {}
        for t, v in values:
            by_time.setdefault(t, {_NAME: []})[_NAME].append(v)
        if by_time:
            series.bulk_insert(by_time)
        # "count" beside the chosen transform tells an empty bucket from a zero result: the
        # library reads an empty bucket's sum, count and rate as 0, its mean, min, max as 0.
        rows = series.series(_NAME, interval, start=start, end=end, transform=["count", transform])
    points: list[tuple[int, float | None]] = []
    for bucket, result in sorted(rows.items()):
        value = result[transform]
        points.append((bucket, float(value) if result["count"] else None))
    return points


async def rollup(
    service: EventService,
    namespace: str,
    stream: str,
    field: str,
    key: str | None,
    interval: str,
    transform: str,
    cap: int,
) -> Rollup:
    """The rollup of ``field`` (of the events whose ``key`` matches, when given) over the last
    ``INTERVALS[interval].buckets`` buckets."""
    if interval not in INTERVALS:
        raise ValidationError(f"interval must be one of {list(INTERVALS)}", "interval")
    if transform not in TRANSFORMS:
        raise ValidationError(f"transform must be one of {list(TRANSFORMS)}", "transform")
    spec = INTERVALS[interval]
    end = int(time.time())
    start = end - (spec.buckets - 1) * spec.seconds
    answer = service.retrieve(
        namespace, stream, start * TICKS_PER_SECOND, (end + 1) * TICKS_PER_SECOND - 1,
        descending=True, limit=cap,
    )  # fmt: skip
    values: list[tuple[int, float]] = []
    scanned = 0
    async for record in records(answer):
        scanned += 1
        event: Any = _decode(record.payload)
        if not isinstance(event, dict) or (key is not None and event.get("key") != key):
            continue
        number = numeric_value(event.get(field))
        if number is not None:
            values.append((record.time // TICKS_PER_SECOND, number))
    # The Timeseries library is synchronous: run it off the event loop.
    points = await asyncio.to_thread(_compute, values, interval, transform, start, end)
    return Rollup(points, scanned, scanned >= cap)
