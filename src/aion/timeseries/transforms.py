"""Transforms: reduce a bucket's data to a number (or anything a callable returns).

Built-in names are ``mean``, ``count``, ``min``, ``max``, ``sum`` and ``rate``. ``rate`` is
Kairos's: values per second of the bucket's duration for a series or a set (how many values,
not their sum), each value's count per second for a histogram (a dict), the total per second
for a count. A callable is called as ``f(data, duration_seconds)`` for every type, including
``set`` (Kairos passed sets a single argument). A transform may be given alone, as a list (the
result is ``{transform: value}``) or as a dict (``{label: value}``).

Which names each type accepts, as in Kairos: series, histogram and set take all six; count
takes ``rate``; gauge only callables. Any other name is refused before the read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from aion.errors import ValidationError
from aion.timeseries.protocol import Kind

__all__ = ["BuiltinTransform", "TransformSpec", "apply_transform", "check_transform"]

TransformFunc = Callable[[Any, int], Any]
#: A name or callable, a list/tuple/set of them, or a dict of label -> name or callable.
TransformSpec = str | TransformFunc | list[Any] | tuple[Any, ...] | set[Any] | dict[Any, Any]


class BuiltinTransform(StrEnum):
    """The transforms known by name."""

    MEAN = "mean"
    COUNT = "count"
    MIN = "min"
    MAX = "max"
    SUM = "sum"
    RATE = "rate"


_ALLOWED: Mapping[Kind, frozenset[BuiltinTransform]] = {
    Kind.SERIES: frozenset(BuiltinTransform),
    Kind.HISTOGRAM: frozenset(BuiltinTransform),
    Kind.SET: frozenset(BuiltinTransform),
    Kind.COUNT: frozenset({BuiltinTransform.RATE}),
    Kind.GAUGE: frozenset(),
}


def _mean(total: float, count: int) -> float:
    return float(total) / count if count else 0


def _values(kind: Kind, data: Any, name: BuiltinTransform, duration: int) -> Any:
    if kind is Kind.COUNT:
        return data / duration
    if kind is Kind.HISTOGRAM:
        if name is BuiltinTransform.RATE:  # no arithmetic on the values: any key works
            return {key: count / duration for key, count in data.items()}
        if name is BuiltinTransform.COUNT:
            return sum(data.values())
        if name is BuiltinTransform.MIN:
            return min(data.keys(), default=0)
        if name is BuiltinTransform.MAX:
            return max(data.keys(), default=0)
        total = sum(key * count for key, count in data.items()) if data else 0
        return _mean(total, sum(data.values())) if name is BuiltinTransform.MEAN else total
    # series and set: a collection of numbers
    if name is BuiltinTransform.MEAN:
        return _mean(sum(data), len(data))
    if name is BuiltinTransform.COUNT:
        return len(data)
    if name is BuiltinTransform.MIN:
        return min(data, default=0)
    if name is BuiltinTransform.MAX:
        return max(data, default=0)
    if name is BuiltinTransform.SUM:
        return sum(data)
    return len(data) / duration  # rate: how many values per second, as Kairos counted


def _check_one(kind: Kind, transform: Any) -> None:
    if callable(transform):
        return
    try:
        name = BuiltinTransform(transform)
    except (ValueError, TypeError):
        raise ValidationError(
            f"unknown transform {transform!r}; use a callable or one of "
            f"{', '.join(t.value for t in BuiltinTransform)}",
            field="transform",
        ) from None
    if name not in _ALLOWED[kind]:
        raise ValidationError(
            f"the {kind} type does not support the transform {name.value!r}", field="transform"
        )


def check_transform(kind: Kind, spec: Any) -> None:
    """Refuse an unknown or unsupported transform before anything is read."""
    if isinstance(spec, dict):
        for one in spec.values():
            _check_one(kind, one)
    elif isinstance(spec, list | tuple | set | frozenset):
        for one in spec:
            _check_one(kind, one)
    else:
        _check_one(kind, spec)


def _apply_one(kind: Kind, data: Any, transform: Any, duration: int) -> Any:
    if callable(transform):
        return transform(data, duration)
    try:
        return _values(kind, data, BuiltinTransform(transform), duration)
    except TypeError as exc:
        raise ValidationError(
            f"the {transform!r} transform needs numbers ({exc}); convert values with read_func",
            field="transform",
        ) from exc


def apply_transform(kind: Kind, data: Any, spec: Any, duration: int) -> Any:
    """Apply a checked transform ``spec`` to one bucket's ``data`` covering ``duration`` s."""
    if isinstance(spec, dict):
        return {label: _apply_one(kind, data, one, duration) for label, one in spec.items()}
    if isinstance(spec, list | tuple | set | frozenset):
        return {one: _apply_one(kind, data, one, duration) for one in spec}
    return _apply_one(kind, data, spec, duration)
