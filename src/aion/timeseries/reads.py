"""Shape raw backend rows into ``get()`` and ``series()`` results. Pure code.

The order of steps is Kairos's: ``process_row`` on every cell, ``join_rows`` across names,
then ``condense`` (resolution rows into their interval), ``collapse`` (all intervals into one)
and last ``transform``. Every transform receives the seconds its data covers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aion.timeseries.intervals import Interval
from aion.timeseries.kinds import KindOps
from aion.timeseries.protocol import Rows
from aion.timeseries.transforms import apply_transform

__all__ = ["ReadPlan", "assemble_get", "assemble_series"]


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """The customisation hooks of one read, already resolved to callables or None."""

    interval: Interval
    ops: KindOps
    process_row: Callable[[Any], Any]
    join_rows: Callable[[list[Any]], Any]
    condense: Callable[[dict[int, Any]], Any] | None
    collapse: Callable[[dict[int, Any]], Any] | None
    transform: Any

    def finish(self, data: Any, duration: int) -> Any:
        """Apply the transform, if any."""
        if self.transform is None:
            return data
        return apply_transform(self.ops.kind, data, self.transform, duration)


def _bucket_rows(plan: ReadPlan, rows: Rows, i_bucket: int) -> tuple[Any, dict[int, Any]]:
    """One interval bucket of one name: (coarse data, {r_ts: fine data})."""
    cells = rows.get(i_bucket) or {}
    if plan.interval.coarse:
        raw = cells.get(None)
        return (plan.ops.empty() if raw is None else plan.process_row(raw)), {}
    resolution = plan.interval.resolution
    fine = {
        resolution.start(r): plan.process_row(raw)
        for r, raw in sorted(cells.items(), key=lambda item: item[0] or 0)
        if r is not None and raw is not None
    }
    return None, fine


def _join_maps(plan: ReadPlan, maps: Sequence[dict[int, Any]]) -> dict[int, Any]:
    if len(maps) == 1:
        return maps[0]
    keys = sorted({key for one in maps for key in one})
    return {key: plan.join_rows([one.get(key) for one in maps]) for key in keys}


def _r_durations(plan: ReadPlan, timestamps: Sequence[int]) -> dict[int, int]:
    resolution = plan.interval.resolution
    return {ts: resolution.duration(resolution.to_bucket(ts)) for ts in timestamps}


def assemble_get(plan: ReadPlan, results: Sequence[Rows], i_bucket: int) -> dict[int, Any]:
    """``get()``: ``{i_ts: data}`` when coarse or condensed, else ``{r_ts: data}`` with data."""
    interval = plan.interval
    i_ts = interval.step.start(i_bucket)
    i_duration = interval.step.duration(i_bucket)
    if interval.coarse:
        rows = [_bucket_rows(plan, rows, i_bucket)[0] for rows in results]
        data = rows[0] if len(rows) == 1 else plan.join_rows(rows)
        return {i_ts: plan.finish(data, i_duration)}
    fine = _join_maps(plan, [_bucket_rows(plan, rows, i_bucket)[1] for rows in results])
    if plan.condense is not None:
        return {i_ts: plan.finish(plan.condense(fine), i_duration)}
    durations = _r_durations(plan, list(fine))
    return {ts: plan.finish(data, durations[ts]) for ts, data in fine.items()}


def assemble_series(
    plan: ReadPlan, results: Sequence[Rows], buckets: Sequence[int]
) -> dict[int, Any]:
    """``series()``: every bucket of the range, empty ones holding the type's empty value."""
    interval = plan.interval
    step = interval.step
    starts = [step.start(b) for b in buckets]
    durations = {ts: step.duration(b) for ts, b in zip(starts, buckets, strict=True)}
    out: dict[int, Any] = {}
    if interval.coarse:
        for ts, bucket in zip(starts, buckets, strict=True):
            rows = [_bucket_rows(plan, one, bucket)[0] for one in results]
            out[ts] = rows[0] if len(rows) == 1 else plan.join_rows(rows)
    else:
        for ts, bucket in zip(starts, buckets, strict=True):
            maps = [_bucket_rows(plan, one, bucket)[1] for one in results]
            out[ts] = _join_maps(plan, maps)
        if plan.condense is not None:
            out = {ts: plan.condense(fine) for ts, fine in out.items()}
        elif plan.collapse is None:
            return {
                ts: _finish_fine(plan, fine) if plan.transform is not None else fine
                for ts, fine in out.items()
            }
    if plan.collapse is not None:
        total = sum(durations.values())
        return {starts[0]: plan.finish(plan.collapse(out), total)}
    return {ts: plan.finish(data, durations[ts]) for ts, data in out.items()}


def _finish_fine(plan: ReadPlan, fine: dict[int, Any]) -> dict[int, Any]:
    durations = _r_durations(plan, list(fine))
    return {ts: plan.finish(data, durations[ts]) for ts, data in fine.items()}
