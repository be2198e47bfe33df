"""The in-memory reference backend: dictionaries, a lock, and TTLs checked on read.

``memory://`` gives each timeseries its own :class:`MemoryDatabase`; pass one database as the
client to several timeseries to share it. ``prefix=`` is a namespace inside a database: two
timeseries with different prefixes on one database see neither each other's data nor each
other's checkpoints, as Redis keys under two prefixes do. The optional ``fetch`` hook is called as
``fetch(cells, name, interval, buckets)`` where ``cells`` maps
``(i_bucket, r_bucket)`` to the stored payload of that name and interval, and must return
:data:`aion.timeseries.protocol.Rows`.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aion.errors import ValidationError
from aion.timeseries.protocol import Advance, Fetch, Kind, ReadQuery, Rows, WriteBatch

__all__ = ["MemoryDatabase", "MemoryStore"]

_Key = tuple[int, int | None]


class MemoryDatabase:
    """Shared state: per (prefix, type), per (name, interval), the cells and their expiry
    times; checkpoints per (prefix, key)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.cells: dict[tuple[str, Kind], dict[tuple[str, str], dict[_Key, Any]]] = {}
        self.expiry: dict[tuple[str, Kind], dict[tuple[str, str, int], int]] = {}
        self.checkpoints: dict[tuple[str, str], int] = {}


class MemoryStore:
    """A :class:`~aion.timeseries.protocol.TimeseriesStore` over a :class:`MemoryDatabase`."""

    def __init__(
        self, kind: Kind, database: MemoryDatabase | None = None, *, prefix: str = ""
    ) -> None:
        if not isinstance(prefix, str):
            raise ValidationError(f"prefix must be a string, not {prefix!r}", field="prefix")
        self.kind = kind
        self.prefix = prefix
        self.database = database or MemoryDatabase()
        space = (prefix, kind)
        self._cells = self.database.cells.setdefault(space, {})
        self._expiry = self.database.expiry.setdefault(space, {})

    def check_name(self, name: str) -> None:
        """Every non-empty string is a valid name here."""

    def _live(self, name: str, interval: str, i_bucket: int, now: float) -> bool:
        expiry = self._expiry.get((name, interval, i_bucket))
        return expiry is None or expiry > now

    def write(self, batch: WriteBatch, **options: Any) -> None:
        """Apply the batch under the lock, so readers never see half of it."""
        if options:
            raise ValidationError(f"unknown memory backend options {sorted(options)}")
        with self.database.lock:
            self._apply(batch)

    def write_checkpointed(self, batch: WriteBatch, advance: Advance) -> bool:
        """Compare, apply and move the checkpoint under the database lock."""
        with self.database.lock:
            key = (self.prefix, advance.key)
            if self.database.checkpoints.get(key, 0) != advance.expected:
                return False
            self._apply(batch)
            self.database.checkpoints[key] = advance.sequence
            return True

    def read_checkpoint(self, key: str) -> int:
        """The checkpoint, 0 when none is stored."""
        with self.database.lock:
            return self.database.checkpoints.get((self.prefix, key), 0)

    def _apply(self, batch: WriteBatch) -> None:
        """Merge the batch in; the caller holds the lock."""
        by_series = self._cells
        now = time.time()
        for cell, payload in batch.cells.items():
            cells = by_series.setdefault((cell.name, cell.interval), {})
            key = (cell.i_bucket, cell.r_bucket)
            if not self._live(cell.name, cell.interval, cell.i_bucket, now):
                cells.pop(key, None)  # an expired bucket starts afresh, as on Redis
            cells[key] = self._merge(cells.get(key), payload)
        self._expiry.update(batch.expire_at)

    def _merge(self, current: Any, payload: Any) -> Any:
        kind = self.kind
        if kind is Kind.GAUGE:
            return payload
        if current is None:
            return copy.copy(payload)
        if kind is Kind.SERIES:
            current.extend(payload)
        elif kind is Kind.HISTOGRAM:
            for value, count in payload.items():
                current[value] = current.get(value, 0) + count
        elif kind is Kind.COUNT:
            return current + payload
        else:
            current |= payload
        return current

    def read(self, query: ReadQuery, fetch: Fetch | None = None) -> Rows:
        """Copies of the live cells in the requested buckets."""
        now = time.time()
        with self.database.lock:
            cells = self._cells.get((query.name, query.interval), {})
            live = {
                key: copy.copy(value)
                for key, value in cells.items()
                if self._live(query.name, query.interval, key[0], now)
            }
        if fetch is not None:
            result: Rows = fetch(live, query.name, query.interval, list(query.buckets))
            return result
        wanted = set(query.buckets)
        rows: Rows = {}
        for (i_bucket, r_bucket), value in live.items():
            if i_bucket in wanted:
                rows.setdefault(i_bucket, {})[r_bucket] = value
        return rows

    def properties(self, name: str, intervals: Sequence[str]) -> dict[str, tuple[int, int]]:
        """First and last live interval buckets per interval."""
        now = time.time()
        out: dict[str, tuple[int, int]] = {}
        with self.database.lock:
            for interval in intervals:
                cells = self._cells.get((name, interval), {})
                buckets = [i for i, _ in cells if self._live(name, interval, i, now)]
                if buckets:
                    out[interval] = (min(buckets), max(buckets))
        return out

    def names(self) -> list[str]:
        """Names with at least one live cell."""
        now = time.time()
        with self.database.lock:
            return sorted(
                {
                    name
                    for (name, interval), cells in self._cells.items()
                    if any(self._live(name, interval, i, now) for i, _ in cells)
                }
            )

    def delete(self, name: str) -> None:
        """Drop every cell of ``name``."""
        with self.database.lock:
            cells = self._cells
            for key in [key for key in cells if key[0] == name]:
                del cells[key]
            expiry = self._expiry
            for bucket_key in [key for key in expiry if key[0] == name]:
                del expiry[bucket_key]

    def delete_all(self) -> None:
        """Drop every cell of this type (under this prefix)."""
        with self.database.lock:
            self._cells.clear()
            self._expiry.clear()

    def expire(self, name: str, cutoffs: Mapping[str, int]) -> None:
        """Drop the buckets at or before each interval's cutoff."""
        with self.database.lock:
            for interval, cutoff in cutoffs.items():
                cells = self._cells.get((name, interval), {})
                for key in [key for key in cells if key[0] <= cutoff]:
                    del cells[key]

    def close(self) -> None:
        """Nothing to release."""
