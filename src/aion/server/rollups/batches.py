"""Turn a batch of stream records into the inserts of one rollup rule (pure, no I/O).

A record's data is the event's JSON (events put through the Kronos, Initial State or Samsara
APIs are stored that way; a sharded-stream record counts when its bytes are a JSON object).
The event's ``@time`` picks the bucket; a record without one, or with one no event id could
hold, uses its arrival time. Events the rule cannot use (no name field, no value, not JSON,
JSON nested too deep to decode) are skipped and counted, never fatal: a consumer that stopped
on one bad event would stop its rollup for good.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from aion.core.ids import MAX_KRONOS_TIME, MIN_KRONOS_TIME
from aion.core.time import TICKS_PER_SECOND
from aion.server.rollups.rules import RollupRule
from aion.streams.protocol import StoredRecord
from aion.timeseries import Kind

__all__ = ["RollupBatch", "build_batch", "checkpoint_key"]

_decode = msgspec.json.Decoder().decode
_MAX_KEY = 200  # checkpoint keys live in a VARCHAR(255) on SQL


def checkpoint_key(
    rule: RollupRule, namespace: str, stream: str, shard: int, source: str = ""
) -> str:
    """The checkpoint of one rule on one shard of one source (``""``: the streams engine,
    whose keys carry no tag); long keys end in a digest to stay short."""
    key = f"{rule.name}|{namespace}|{stream}|{shard}" + (f"|{source}" if source else "")
    if len(key) <= _MAX_KEY:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"{key[: _MAX_KEY - 41]}#{digest}"


@dataclass(slots=True)
class RollupBatch:
    """``{unix_second: {timeseries name: [values]}}`` ready for ``bulk_insert``, and what
    was left out."""

    inserts: dict[int, dict[str, list[Any]]] = field(default_factory=dict)
    used: int = 0
    skipped: int = 0


def _event(record: StoredRecord) -> dict[str, Any] | None:
    try:
        event = _decode(record.data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    return event if isinstance(event, dict) else None


def _count_value(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if _finite(value) is not None else None


def _plain_value(value: Any) -> Any:
    # Timeseries values must be hashable scalars (histogram and set keys, Redis strings).
    if value is None or isinstance(value, dict | list):
        return None
    return _finite(value)


def _finite(value: Any) -> Any:
    # JSON's 1e400 decodes to infinity, which no timeseries stores: such an event is skipped.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def build_batch(
    rule: RollupRule, namespace: str, stream: str, records: Sequence[StoredRecord]
) -> RollupBatch:
    """The inserts ``records`` make in ``rule``'s timeseries."""
    batch = RollupBatch()
    inserts = batch.inserts
    template, value_path = rule.timeseries, rule.value
    is_count = rule.type is Kind.COUNT
    for record in records:
        event = _event(record)
        if event is None:
            batch.skipped += 1
            continue
        name = template.render(event, namespace, stream)
        if value_path is None:
            value: Any = 1
        else:
            raw = value_path.lookup(event)
            value = _count_value(raw) if is_count else _plain_value(raw)
        if name is None or value is None:
            batch.skipped += 1
            continue
        ticks = event.get("@time")
        if (
            isinstance(ticks, bool)
            or not isinstance(ticks, int)
            or not MIN_KRONOS_TIME <= ticks <= MAX_KRONOS_TIME  # a calendar can't place it
        ):
            ticks = record.arrival_time
        second = ticks // TICKS_PER_SECOND
        inserts.setdefault(second, {}).setdefault(name, []).append(value)
        batch.used += 1
    return batch
