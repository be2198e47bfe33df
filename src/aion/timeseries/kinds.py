"""What each timeseries type does with values: aggregate writes, read rows, condense and join.

Pure code. Writes are aggregated per cell before they reach a backend, so a batch of a million
count increments into one bucket costs one backend operation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aion.errors import ValidationError
from aion.timeseries.protocol import Kind

__all__ = ["KINDS", "KindOps", "parse_kind", "refuse_non_finite"]

ReadFunc = Callable[[Any], Any]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def refuse_non_finite(value: object) -> None:
    """Raise :class:`ValidationError` for a NaN or an infinity: no backend stores them alike
    (SQL refuses them, Redis and memory keep them and every mean becomes NaN), so none is
    written."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{value!r} cannot be stored: values must be finite", field="value")


class KindOps:
    """The behaviour of one type; subclasses override what differs."""

    kind: Kind

    def empty(self) -> Any:
        """The value of a bucket that holds no data."""
        raise NotImplementedError

    def validate(self, value: Any) -> None:
        """Raise :class:`ValidationError` if ``value`` cannot be stored in this type."""
        refuse_non_finite(value)
        try:
            hash(value)
        except TypeError:
            raise ValidationError(
                f"{self.kind} values must be hashable, not {type(value).__name__}", field="value"
            ) from None

    def accumulate(self, current: Any, value: Any) -> Any:
        """Fold one written value into a cell's pending payload (``current`` may be None)."""
        raise NotImplementedError

    def fold(self, current: Any, values: list[Any]) -> Any:
        """Fold several written values at once (one call per cell on the hot path)."""
        for value in values:
            current = self.accumulate(current, value)
        return current

    def process_row(self, raw: Any, read_func: ReadFunc | None) -> Any:
        """A stored payload as the user reads it, with ``read_func`` applied to values."""
        raise NotImplementedError

    def condense(self, rows: Mapping[int, Any]) -> Any:
        """Merge ``{timestamp: data}`` (resolution rows, or intervals) into one value."""
        return self.join(rows.values())

    def join(self, rows: Iterable[Any]) -> Any:
        """Merge the same bucket of several names (None marks a missing row)."""
        raise NotImplementedError


class SeriesOps(KindOps):
    """Every value in arrival order; condense and join concatenate."""

    kind = Kind.SERIES

    def empty(self) -> list[Any]:
        return []

    def validate(self, value: Any) -> None:
        refuse_non_finite(value)

    def accumulate(self, current: Any, value: Any) -> Any:
        if current is None:
            return [value]
        current.append(value)
        return current

    def process_row(self, raw: Any, read_func: ReadFunc | None) -> Any:
        return [read_func(v) for v in raw] if read_func else list(raw)

    def join(self, rows: Iterable[Any]) -> list[Any]:
        out: list[Any] = []
        for row in rows:
            if row:
                out.extend(row)
        return out


class HistogramOps(KindOps):
    """Occurrences per distinct value; condense and join add counts."""

    kind = Kind.HISTOGRAM

    def empty(self) -> dict[Any, int]:
        return {}

    def accumulate(self, current: Any, value: Any) -> Any:
        if current is None:
            return {value: 1}
        current[value] = current.get(value, 0) + 1
        return current

    def fold(self, current: Any, values: list[Any]) -> Any:
        if current is None:
            current = {}
        for value in values:
            current[value] = current.get(value, 0) + 1
        return current

    def process_row(self, raw: Any, read_func: ReadFunc | None) -> Any:
        if read_func is None:
            return {value: int(count) for value, count in raw.items()}
        out: dict[Any, int] = {}
        for value, count in raw.items():
            key = read_func(value)
            # Two stored forms ("1" and "1.0") may read as one value; keep both counts.
            out[key] = out.get(key, 0) + int(count)
        return out

    def join(self, rows: Iterable[Any]) -> dict[Any, int]:
        out: dict[Any, int] = {}
        for row in rows:
            if row:
                for value, count in row.items():
                    out[value] = out.get(value, 0) + count
        return out


class CountOps(KindOps):
    """A running total per bucket; ``read_func`` is not used, as in Kairos."""

    kind = Kind.COUNT

    def empty(self) -> int:
        return 0

    def validate(self, value: Any) -> None:
        if type(value) is int:  # the common case, checked cheaply
            return
        refuse_non_finite(value)
        if type(value) is float:
            return
        if not _is_number(value):
            raise ValidationError(
                f"count increments must be int or float, not {value!r}", field="value"
            )

    def accumulate(self, current: Any, value: Any) -> Any:
        return value if current is None else current + value

    def fold(self, current: Any, values: list[Any]) -> Any:
        total = values[0] if len(values) == 1 else sum(values)
        return total if current is None else current + total

    def process_row(self, raw: Any, read_func: ReadFunc | None) -> Any:
        if raw is None:
            return 0
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        return raw

    def join(self, rows: Iterable[Any]) -> Any:
        total: Any = 0
        for row in rows:
            if row:
                total += row
        return total


class GaugeOps(KindOps):
    """The last written value; an empty bucket reads as None (Kairos said 0 on SQL)."""

    kind = Kind.GAUGE

    def empty(self) -> None:
        return None

    def validate(self, value: Any) -> None:
        refuse_non_finite(value)

    def accumulate(self, current: Any, value: Any) -> Any:
        return value

    def process_row(self, raw: Any, read_func: ReadFunc | None) -> Any:
        if raw is None:
            return None
        return read_func(raw) if read_func else raw

    def join(self, rows: Iterable[Any]) -> Any:
        # The last row that holds a value: unlike Kairos, a real 0 counts as a value.
        last = None
        for row in rows:
            if row is not None:
                last = row
        return last


class SetOps(KindOps):
    """Distinct values per bucket; condense and join take the union."""

    kind = Kind.SET

    def empty(self) -> set[Any]:
        return set()

    def accumulate(self, current: Any, value: Any) -> Any:
        if current is None:
            return {value}
        current.add(value)
        return current

    def process_row(self, raw: Any, read_func: ReadFunc | None) -> Any:
        return {read_func(v) for v in raw} if read_func else set(raw)

    def join(self, rows: Iterable[Any]) -> set[Any]:
        out: set[Any] = set()
        for row in rows:
            if row:
                out |= row
        return out


KINDS: Mapping[Kind, KindOps] = {
    ops.kind: ops for ops in (SeriesOps(), HistogramOps(), CountOps(), GaugeOps(), SetOps())
}


def parse_kind(value: object) -> Kind:
    """The :class:`Kind` named by ``value``, or a :class:`ValidationError` listing the types."""
    try:
        return Kind(str(value))
    except ValueError:
        raise ValidationError(
            f"unknown timeseries type {value!r}; use one of {', '.join(k.value for k in Kind)}",
            field="type",
        ) from None
