"""The contract between :class:`aion.timeseries.Timeseries` and a storage backend.

The logic (bucket math, TTL rules, aggregation, condense, join, transforms) stays out of the
backends: a backend receives pre-aggregated cells to write and returns raw cells when read.
Values are plain Python values; a backend decodes its own wire forms (Redis bytes become
``str``, numbers in SQL come back as the column's type).

Per-kind payloads, written and read:

========== ============================== =========================================
kind       written payload                read payload
========== ============================== =========================================
series     ``list`` of values, in order   ``list``
histogram  ``dict`` value -> increment    ``dict`` value -> int count
count      ``int`` or ``float`` increment ``int`` (when whole) or ``float``
gauge      the last value                 the value
set        ``set`` of values              ``set``
========== ============================== =========================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from aion.errors import StoreError

__all__ = [
    "Advance",
    "Cell",
    "Kind",
    "ReadQuery",
    "Rows",
    "StoreError",
    "TimeseriesStore",
    "WriteBatch",
]


class Kind(StrEnum):
    """The five timeseries types."""

    SERIES = "series"
    HISTOGRAM = "histogram"
    COUNT = "count"
    GAUGE = "gauge"
    SET = "set"


@dataclass(frozen=True, slots=True)
class Cell:
    """One storage location: a name's interval bucket, and its resolution bucket if fine."""

    name: str
    interval: str
    i_bucket: int
    r_bucket: int | None = None


@dataclass(frozen=True, slots=True)
class WriteBatch:
    """Aggregated writes: one payload per cell, plus the expiry of each interval bucket.

    ``cells`` keeps insertion order, which series and gauge rely on. ``expire_at`` maps
    ``(name, interval, i_bucket)`` to the Unix second at which that bucket expires.
    """

    cells: Mapping[Cell, Any]
    expire_at: Mapping[tuple[str, str, int], int]


@dataclass(frozen=True, slots=True)
class ReadQuery:
    """Read ``buckets`` (interval buckets, oldest first) of one name and interval."""

    name: str
    interval: str
    buckets: Sequence[int]
    fine: bool


@dataclass(frozen=True, slots=True)
class Advance:
    """Move consumer checkpoint ``key`` from ``expected`` to ``sequence`` with a write.

    A checkpoint is a position (an int, 0 when none is stored) that a consumer keeps beside
    the data it derived from a source, so that applying a batch and recording how far it got
    happen together or not at all. ``expected`` makes the move a compare-and-set: two
    consumers racing on one key cannot both apply the same batch.
    """

    key: str
    expected: int
    sequence: int


#: ``{i_bucket: {r_bucket: payload}}``; ``r_bucket`` is None on coarse intervals. Only cells
#: holding data appear.
Rows = dict[int, dict[int | None, Any]]

#: A backend-specific read hook (Kairos's ``fetch``); each backend documents its signature.
Fetch = Callable[..., Any]


class TimeseriesStore(Protocol):
    """Storage for one timeseries type; every method is synchronous."""

    kind: Kind

    def check_name(self, name: str) -> None:
        """Raise :class:`aion.errors.ValidationError` if this backend cannot store ``name``."""
        ...

    def write(self, batch: WriteBatch, **options: Any) -> None:
        """Apply ``batch`` all at once where the backend can (a transaction or a pipeline)."""
        ...

    def write_checkpointed(self, batch: WriteBatch, advance: Advance) -> bool:
        """Apply ``batch`` and move a checkpoint in one atomic step (a SQL transaction, a
        Redis ``MULTI`` watched on the checkpoint key, the memory lock); return False and
        write nothing when the stored checkpoint is not ``advance.expected``."""
        ...

    def read_checkpoint(self, key: str) -> int:
        """The stored checkpoint ``key``, 0 when none is stored."""
        ...

    def read(self, query: ReadQuery, fetch: Fetch | None = None) -> Rows:
        """The cells of ``query`` that hold data."""
        ...

    def properties(self, name: str, intervals: Sequence[str]) -> dict[str, tuple[int, int]]:
        """``{interval: (first_bucket, last_bucket)}`` for each interval holding data."""
        ...

    def names(self) -> list[str]:
        """Every name with live data, sorted."""
        ...

    def delete(self, name: str) -> None:
        """Remove every cell of ``name``."""
        ...

    def delete_all(self) -> None:
        """Remove every cell this store holds for its type (and prefix, on Redis)."""
        ...

    def expire(self, name: str, cutoffs: Mapping[str, int]) -> None:
        """Delete the cells of ``name`` whose interval bucket is at or before its cutoff."""
        ...

    def close(self) -> None:
        """Release connections this store opened itself (never a client it was given)."""
        ...
