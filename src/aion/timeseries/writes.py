"""Turn inserts into one aggregated :class:`WriteBatch`, validating everything first.

Pure code: the caller passes ``now``. Nothing reaches a backend until every timestamp, name and
value of the batch has been checked, so a bad value leaves the store untouched.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from aion.errors import ValidationError
from aion.timeseries.intervals import Interval, RelativeTime
from aion.timeseries.kinds import KindOps
from aion.timeseries.protocol import Cell, WriteBatch

__all__ = ["normalize_timestamp", "plan_writes"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def normalize_timestamp(timestamp: object, now: float, field: str = "timestamp") -> float | int:
    """Unix seconds from an int, a float or a datetime; None means ``now``.

    ``0`` is the epoch, a real time (Kairos replaced any falsy timestamp with now).
    Naive datetimes are taken as UTC.
    """
    if timestamp is None:
        return now
    if isinstance(timestamp, bool):
        raise ValidationError(f"{field}: a boolean is not a time", field=field)
    if isinstance(timestamp, int):
        return timestamp
    if isinstance(timestamp, float):
        if not math.isfinite(timestamp):
            raise ValidationError(f"{field}: {timestamp!r} is not a finite time", field=field)
        return timestamp
    if isinstance(timestamp, datetime):
        moment = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
        return (moment - _EPOCH).total_seconds()
    raise ValidationError(
        f"{field}: expected Unix seconds or a datetime, not {type(timestamp).__name__}",
        field=field,
    )


def _targets(interval: Interval, ts: float | int, copies: int) -> list[tuple[int, int | None]]:
    """The (interval bucket, resolution bucket) pairs one timestamp writes to."""
    i_bucket = interval.step.to_bucket(ts)
    fine = not interval.coarse
    out: list[tuple[int, int | None]] = [
        (i_bucket, interval.resolution.to_bucket(ts) if fine else None)
    ]
    direction = 1 if copies > 0 else -1
    for offset in range(1, abs(copies) + 1):
        # Copies land at the start of their bucket: the resolution is lost, as in Kairos.
        shifted = interval.step.shift(i_bucket, offset * direction)
        r_bucket = interval.resolution.to_bucket(interval.step.start(shifted)) if fine else None
        out.append((shifted, r_bucket))
    return out


def _fast_step(interval: Interval) -> tuple[int, int | None] | None:
    """(step, resolution or None) seconds when the bucket math is plain division, else None."""
    step, resolution = interval.step, interval.resolution
    if interval.steps is not None or not isinstance(step, RelativeTime):
        return None
    if interval.coarse:
        return step.step, None
    if isinstance(resolution, RelativeTime):
        return step.step, resolution.step
    return None


def plan_writes(
    inserts: Mapping[Any, Mapping[str, Iterable[Any]]],
    *,
    intervals: Mapping[str, Interval],
    ops: KindOps,
    now: float,
    copies: int = 0,
    write_func: Callable[[Any], Any] | None = None,
    check_name: Callable[[str], None] | None = None,
) -> WriteBatch:
    """Aggregate ``{timestamp: {name: [values]}}`` into one batch of cell payloads.

    ``copies`` (Kairos's ``intervals=±k``) also writes each value into the k buckets after
    (k > 0) or before (k < 0) its own. A bucket whose ``steps`` retention has already passed
    by ``now`` is skipped, whatever the backend, so every backend keeps the same data.
    """
    if isinstance(copies, bool) or not isinstance(copies, int):
        raise ValidationError("intervals must be an int number of buckets", field="intervals")
    # Aggregate under plain tuples (cheaper to hash than Cells); Cells are built at the end.
    pending: dict[tuple[str, str, int, int | None], Any] = {}
    expire_at: dict[tuple[str, str, int], int] = {}
    fold, validate = ops.fold, ops.validate
    plans = [
        (interval, None if copies else _fast_step(interval)) for interval in intervals.values()
    ]
    known_names: set[str] = set()
    for raw_ts, by_name in inserts.items():
        kind_of_ts = type(raw_ts)
        if kind_of_ts is int or (kind_of_ts is float and math.isfinite(raw_ts)):
            ts = raw_ts
        else:
            ts = normalize_timestamp(raw_ts, now)
        if type(by_name) is not dict and not isinstance(by_name, Mapping):
            raise ValidationError("bulk inserts are {timestamp: {name: [values]}}", field="inserts")
        for name, raw_values in by_name.items():
            if name not in known_names:
                if not isinstance(name, str) or not name:
                    raise ValidationError(f"names must be non-empty strings, not {name!r}", "name")
                if check_name is not None:
                    check_name(name)
                known_names.add(name)
            if type(raw_values) is list and write_func is None:
                values = raw_values
            else:
                if isinstance(raw_values, str | bytes) or not isinstance(raw_values, Iterable):
                    raw_values = [raw_values]
                values = [write_func(v) for v in raw_values] if write_func else list(raw_values)
            if not values:
                continue
            for value in values:
                validate(value)
            for interval, fast in plans:
                if fast is not None:
                    step, resolution = fast
                    key = (
                        name,
                        interval.name,
                        int(ts // step),
                        None if resolution is None else int(ts // resolution),
                    )
                    pending[key] = fold(pending.get(key), values)
                    continue
                for i_bucket, r_bucket in _targets(interval, ts, copies):
                    expiry = interval.expire_at(i_bucket)
                    if expiry is not None and expiry <= now:
                        continue
                    key = (name, interval.name, i_bucket, r_bucket)
                    pending[key] = fold(pending.get(key), values)
                    if expiry is not None:
                        expire_at[(name, interval.name, i_bucket)] = expiry
    cells = {Cell(*key): payload for key, payload in pending.items()}
    return WriteBatch(cells=cells, expire_at=expire_at)
