"""What the dashboard computes from events, as pure functions (no I/O, no clock).

- ``stream_rate``: events per minute of a stream over a window, from the times of its newest
  events. The caller reads at most ``cap`` of them; when the cap is hit, the rate is estimated
  from the span those events cover instead of the whole window.
- ``shards_rate``: the same for a sharded stream of the streams engine (Redis, NATS), from the
  arrival times of each shard's oldest records in the window, read forward up to a cap per
  shard.
- ``summarise_bucket``: the Initial State view of a stream of ``{key, value, @time}`` events:
  the latest value per key and its recent numeric history.
- ``downsample``: a long numeric history reduced to a bounded number of points for a chart.

Times are kronos times (100 ns ticks); :mod:`aion.server.dashboard.shapes` turns them into the
epoch milliseconds the page's JavaScript dates use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aion.core.time import TICKS_PER_SECOND

__all__ = [
    "TICKS_PER_MINUTE",
    "KeySummary",
    "StreamRate",
    "downsample",
    "numeric_value",
    "shards_rate",
    "stream_rate",
    "summarise_bucket",
]

TICKS_PER_MINUTE = 60 * TICKS_PER_SECOND
Value = str | bool | int | float


@dataclass(frozen=True, slots=True)
class StreamRate:
    """A stream's recent traffic.

    ``bins`` holds events per minute, oldest minute first, one per minute of the window; a
    minute older than the newest ``cap`` events (so not fully counted) is None.
    """

    count: int
    per_minute: float
    estimated: bool
    bins: list[int | None]


def stream_rate(
    times_newest_first: Sequence[int], now: int, window_minutes: int, cap: int
) -> StreamRate:
    """The rate of a stream from the times of its events in ``(now - window, now]``.

    ``times_newest_first`` are at most ``cap`` times; exactly ``cap`` means there may be
    more, so the rate is extrapolated from the span they cover (at least one second, so a
    burst in one instant does not read as an infinite rate).
    """
    bins: list[int | None] = [0] * window_minutes
    for t in times_newest_first:
        age = (now - t) // TICKS_PER_MINUTE
        if 0 <= age < window_minutes:
            slot = window_minutes - 1 - age
            bins[slot] = (bins[slot] or 0) + 1
    count = len(times_newest_first)
    if count < cap or count == 0:
        return StreamRate(count, count / window_minutes, False, bins)
    oldest = times_newest_first[-1]
    span = max(now - oldest, TICKS_PER_SECOND)
    # The oldest minute reached is only partly counted, and older ones not at all.
    reached = window_minutes - 1 - min((now - oldest) // TICKS_PER_MINUTE, window_minutes - 1)
    for slot in range(reached + 1):
        bins[slot] = None
    return StreamRate(count, count * TICKS_PER_MINUTE / span, True, bins)


def shards_rate(
    times_per_shard: Sequence[Sequence[int]], now: int, window_minutes: int, shard_cap: int
) -> StreamRate:
    """The rate of a sharded stream from each shard's arrival times in ``(now - window, now]``,
    oldest first, at most ``shard_cap`` per shard (a shard read forward from the window's
    start). A shard that reached its cap may hold more: its rate is extrapolated from the span
    its times cover, and the minutes after its newest time counted are not fully counted
    (None)."""
    bins: list[int | None] = [0] * window_minutes
    start = now - window_minutes * TICKS_PER_MINUTE
    count, per_minute, estimated = 0, 0.0, False
    unknown_from = window_minutes  # the first slot not fully counted
    for times in times_per_shard:
        for t in times:
            age = (now - t) // TICKS_PER_MINUTE
            if 0 <= age < window_minutes:
                slot = window_minutes - 1 - age
                bins[slot] = (bins[slot] or 0) + 1
        count += len(times)
        if times and len(times) >= shard_cap:
            estimated = True
            per_minute += len(times) * TICKS_PER_MINUTE / max(times[-1] - start, TICKS_PER_SECOND)
            age = min(max((now - times[-1]) // TICKS_PER_MINUTE, 0), window_minutes - 1)
            unknown_from = min(unknown_from, window_minutes - 1 - age)
        else:
            per_minute += len(times) / window_minutes
    for slot in range(unknown_from, window_minutes):
        bins[slot] = None
    return StreamRate(count, per_minute, estimated, bins)


def numeric_value(value: object) -> float | None:
    """A value as a number to plot: numbers as they are, booleans as 0/1, text not at all."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None


@dataclass(slots=True)
class KeySummary:
    """One Initial State key of a bucket: its latest value and recent numeric points."""

    key: str
    latest: Value
    latest_time: int
    count: int = 0
    points: list[tuple[int, float]] = field(default_factory=list)  # newest first


def summarise_bucket(
    events_newest_first: Iterable[dict[str, Any]], points_per_key: int
) -> tuple[list[KeySummary], int]:
    """Per key (sorted by key), the latest value and up to ``points_per_key`` recent numeric
    points; and how many events were not ``{key, value, @time}`` shaped (skipped)."""
    keys: dict[str, KeySummary] = {}
    skipped = 0
    for event in events_newest_first:
        key, value, t = event.get("key"), event.get("value"), event.get("@time")
        if not isinstance(key, str) or not isinstance(value, str | bool | int | float):
            skipped += 1
            continue
        if not isinstance(t, int):
            skipped += 1
            continue
        summary = keys.get(key)
        if summary is None:
            summary = keys[key] = KeySummary(key, value, t)
        summary.count += 1
        number = numeric_value(value)
        if number is not None and len(summary.points) < points_per_key:
            summary.points.append((t, number))
    return [keys[k] for k in sorted(keys)], skipped


def downsample(points: Sequence[tuple[int, float]], max_points: int) -> list[tuple[int, float]]:
    """At most ``max_points`` points (oldest first in, oldest first out): the time range is cut
    into equal bins and each non-empty bin becomes the mean of its points, so a chart's shape
    survives without sending every event to the page."""
    if len(points) <= max_points:
        return list(points)
    first, last = points[0][0], points[-1][0]
    width = (last - first) / max_points or 1
    sums: dict[int, list[float]] = {}
    for t, v in points:
        slot = min(int((t - first) / width), max_points - 1)
        acc = sums.setdefault(slot, [0.0, 0.0, 0.0])
        acc[0] += t
        acc[1] += v
        acc[2] += 1
    return [(int(acc[0] / acc[2]), acc[1] / acc[2]) for _, acc in sorted(sums.items())]
