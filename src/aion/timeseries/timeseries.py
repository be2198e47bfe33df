"""The native timeseries API: Kairos's methods and semantics, with its known bugs fixed.

>>> ts = Timeseries("memory://", type="count", intervals={"minute": {"step": 60}})
>>> ts.insert("hits", timestamp=0)
>>> ts.get("hits", "minute", timestamp=30)
{0: 1}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from aion.errors import UnknownInterval, ValidationError
from aion.timeseries.columns import plan_columns, plan_mapping
from aion.timeseries.intervals import Interval, parse_intervals
from aion.timeseries.kinds import KINDS, parse_kind
from aion.timeseries.protocol import Advance, Fetch, ReadQuery, Rows
from aion.timeseries.reads import ReadPlan, assemble_get, assemble_series
from aion.timeseries.registry import open_store
from aion.timeseries.transforms import check_transform
from aion.timeseries.writes import normalize_timestamp, plan_writes

__all__ = ["Timeseries", "UnknownInterval"]

_UNSET: Any = object()


class Timeseries:
    """A rollup of one type over named intervals, stored in one backend.

    ``client`` is a ``redis.Redis`` client, an SQLAlchemy ``Engine``, a
    :class:`~aion.timeseries.backends.memory.MemoryDatabase` or a URL (``memory://``, ``redis://...``,
    any SQLAlchemy URL). ``type`` is ``series``, ``histogram``, ``count``, ``gauge`` or ``set``;
    ``intervals`` maps names to ``{"step", "steps", "resolution"}``; ``read_func`` and
    ``write_func`` convert values on the way out and in; other keywords configure the backend.
    """

    def __init__(
        self,
        client: Any,
        *,
        type: str,  # noqa: A002 - Kairos's keyword, kept so configurations carry over
        intervals: Mapping[str, Mapping[str, Any]],
        read_func: Callable[[Any], Any] | None = None,
        write_func: Callable[[Any], Any] | None = None,
        **backend_options: Any,
    ) -> None:
        self.kind = parse_kind(type)
        self.ops = KINDS[self.kind]
        self.intervals: dict[str, Interval] = parse_intervals(intervals)
        self.read_func = read_func
        self.write_func = write_func
        self.store = open_store(self.kind, client, backend_options)
        for name in self.intervals:
            self.store.check_name(name)

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Release connections the timeseries opened itself (from a URL)."""
        self.store.close()

    def __enter__(self) -> Timeseries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes ----------------------------------------------------------------------------

    def insert(
        self,
        name: str,
        value: Any = _UNSET,
        timestamp: Any = None,
        intervals: int = 0,
        **options: Any,
    ) -> None:
        """Add ``value`` to ``name`` at ``timestamp`` (default now; ``0`` is the epoch).

        A list, tuple or set of values is a bulk insert. ``value`` defaults to 1 on a count.
        ``intervals=k`` also copies the value into the k buckets after (k > 0) or before
        (k < 0). Backend options such as Redis's ``pipeline=`` pass through.
        """
        if value is _UNSET:
            if self.kind != "count":
                raise ValidationError(f"insert into a {self.kind} needs a value", field="value")
            value = 1
        values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
        self.bulk_insert({timestamp: {name: values}}, intervals=intervals, **options)

    def bulk_insert(
        self,
        inserts: Mapping[Any, Mapping[str, Iterable[Any]]],
        intervals: int = 0,
        **options: Any,
    ) -> None:
        """Insert ``{timestamp: {name: [values]}}`` in one backend operation.

        Every value is checked first, so a bad one leaves the store unchanged.
        """
        if intervals == 0 and not isinstance(intervals, bool):
            batch = plan_mapping(
                inserts,
                intervals=self.intervals,
                ops=self.ops,
                now=time.time(),
                write_func=self.write_func,
                check_name=self.store.check_name,
            )
        else:  # copies into neighbouring buckets: the general planner
            batch = plan_writes(
                inserts,
                intervals=self.intervals,
                ops=self.ops,
                now=time.time(),
                copies=intervals,
                write_func=self.write_func,
                check_name=self.store.check_name,
            )
        if batch.cells or options:
            self.store.write(batch, **options)

    def bulk_insert_columns(
        self,
        name: str,
        timestamps: Iterable[Any],
        values: Sequence[Any] | None = None,
        **options: Any,
    ) -> None:
        """Insert ``values[i]`` at ``timestamps[i]`` into ``name`` in one backend operation.

        The columnar twin of :meth:`bulk_insert` (same buckets, same checks, same data), for
        many values of one name: the per-value work runs in C, so it is several times faster.
        ``values`` None on a count adds 1 per timestamp. Backend options pass through.
        """
        (one,) = self._names(name)
        batch = plan_columns(
            one,
            timestamps,
            values,
            intervals=self.intervals,
            ops=self.ops,
            now=time.time(),
            write_func=self.write_func,
        )
        if batch.cells or options:
            self.store.write(batch, **options)

    def bulk_insert_checkpointed(
        self, inserts: Mapping[Any, Mapping[str, Iterable[Any]]], advance: Advance
    ) -> bool:
        """Insert like :meth:`bulk_insert` and move consumer checkpoint ``advance.key`` from
        ``advance.expected`` to ``advance.sequence`` in the same atomic step.

        Returns False, writing nothing, when the stored checkpoint is not ``expected`` (another
        consumer got there first). A stream consumer that applies every batch this way counts
        each event exactly once, across crashes and racing consumers.
        """
        batch = plan_mapping(
            inserts,
            intervals=self.intervals,
            ops=self.ops,
            now=time.time(),
            write_func=self.write_func,
            check_name=self.store.check_name,
        )
        return self.store.write_checkpointed(batch, advance)

    def checkpoint(self, key: str) -> int:
        """The consumer checkpoint ``key`` kept in this timeseries' store (0: none)."""
        return self.store.read_checkpoint(key)

    # -- reads -----------------------------------------------------------------------------

    def _interval(self, interval: str) -> Interval:
        try:
            return self.intervals[interval]
        except (KeyError, TypeError):
            raise UnknownInterval(
                f"unknown interval {interval!r}; configured: {', '.join(self.intervals)}"
            ) from None

    def _names(self, name: Any) -> list[str]:
        names = list(name) if isinstance(name, list | tuple | set | frozenset) else [name]
        if not names:
            raise ValidationError("no names to read", field="name")
        for one in names:
            if not isinstance(one, str) or not one:
                raise ValidationError(f"names must be non-empty strings, not {one!r}", "name")
            self.store.check_name(one)
        return names

    def _plan(
        self,
        interval: Interval,
        *,
        transform: Any,
        process_row: Callable[[Any], Any] | None,
        condense: Any,
        join_rows: Callable[[list[Any]], Any] | None,
        collapse: Any = False,
    ) -> ReadPlan:
        if transform is not None:
            check_transform(self.kind, transform)
        ops, read_func = self.ops, self.read_func
        if collapse and not condense:
            condense = True  # Kairos: collapsing implies condensing resolution rows first
        condense_fn = (condense if callable(condense) else ops.condense) if condense else None
        collapse_fn = None
        if collapse:
            collapse_fn = collapse if callable(collapse) else condense_fn or ops.condense
        return ReadPlan(
            interval=interval,
            ops=ops,
            process_row=process_row or (lambda raw: ops.process_row(raw, read_func)),
            join_rows=join_rows or (lambda rows: ops.join(rows)),
            condense=condense_fn,
            collapse=collapse_fn,
            transform=transform,
        )

    def _read(
        self, names: list[str], interval: Interval, buckets: list[int], fetch: Any
    ) -> list[Rows]:
        fine = not interval.coarse
        return [self.store.read(ReadQuery(n, interval.name, buckets, fine), fetch) for n in names]

    def get(
        self,
        name: str | Iterable[str],
        interval: str,
        timestamp: Any = None,
        transform: Any = None,
        fetch: Fetch | None = None,
        process_row: Callable[[Any], Any] | None = None,
        condense: Any = False,
        join_rows: Callable[[list[Any]], Any] | None = None,
        condensed: Any = None,
    ) -> dict[int, Any]:
        """One interval bucket: ``{i_ts: data}``, or ``{r_ts: data}`` per resolution bucket
        holding data on a fine interval unless ``condense``. A list of names is joined.
        ``condensed`` is Kairos's deprecated spelling of ``condense``."""
        config = self._interval(interval)
        names = self._names(name)
        plan = self._plan(
            config,
            transform=transform,
            process_row=process_row,
            condense=condense if condensed is None else condensed,
            join_rows=join_rows,
        )
        i_bucket = config.step.to_bucket(normalize_timestamp(timestamp, time.time()))
        return assemble_get(plan, self._read(names, config, [i_bucket], fetch), i_bucket)

    def series(
        self,
        name: str | Iterable[str],
        interval: str,
        start: Any = None,
        end: Any = None,
        steps: int | None = None,
        transform: Any = None,
        fetch: Fetch | None = None,
        process_row: Callable[[Any], Any] | None = None,
        condense: Any = False,
        join_rows: Callable[[list[Any]], Any] | None = None,
        collapse: Any = False,
        condensed: Any = None,
    ) -> dict[int, Any]:
        """Every interval bucket of a range, empty ones holding the type's empty value.

        ``start`` and ``end``: the buckets holding them and all between. One of them: ``steps``
        buckets from ``start`` or ending at ``end``. Neither: ``steps`` ending now. ``steps``
        defaults to the interval's ``steps``, else 1. ``collapse`` merges the range into
        ``{first_ts: data}``.
        """
        config = self._interval(interval)
        names = self._names(name)
        plan = self._plan(
            config,
            transform=transform,
            process_row=process_row,
            condense=condense if condensed is None else condensed,
            join_rows=join_rows,
            collapse=collapse,
        )
        now = time.time()
        first = None if start is None else normalize_timestamp(start, now, "start")
        last = None if end is None else normalize_timestamp(end, now, "end")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)):
            raise ValidationError("steps must be an int", field="steps")
        buckets = config.series_buckets(first, last, steps, now)
        return assemble_series(plan, self._read(names, config, buckets, fetch), buckets)

    def iterate(
        self, name: str | Iterable[str], interval: str, **get_kwargs: Any
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(timestamp, data)`` for every bucket between the first and last with data,
        one ``get()`` each; keyword arguments are ``get()``'s."""
        config = self._interval(interval)
        spans = [self.properties(one)[interval] for one in self._names(name)]
        firsts = [s["first"] for s in spans if s["first"] is not None]
        lasts = [s["last"] for s in spans if s["last"] is not None]
        if not firsts:
            return
        step = config.step
        for bucket in step.range(step.to_bucket(min(firsts)), step.to_bucket(max(lasts))):
            yield from self.get(name, interval, timestamp=step.start(bucket), **get_kwargs).items()

    # -- metadata and deletion -------------------------------------------------------------

    def list(self) -> list[str]:
        """Every name holding data, sorted."""
        return self.store.names()

    def properties(self, name: str) -> dict[str, dict[str, int | None]]:
        """``{interval: {"first": ts, "last": ts}}``; both None for an interval without data."""
        (one,) = self._names(name)
        found = self.store.properties(one, list(self.intervals))
        out: dict[str, dict[str, int | None]] = {}
        for interval_name, config in self.intervals.items():
            span = found.get(interval_name)
            out[interval_name] = {
                "first": None if span is None else config.step.start(span[0]),
                "last": None if span is None else config.step.start(span[1]),
            }
        return out

    def delete(self, name: str) -> None:
        """Delete every bucket of ``name`` in every interval."""
        (one,) = self._names(name)
        self.store.delete(one)

    def delete_all(self) -> None:
        """Delete every name of this type in this store (and prefix, on Redis)."""
        self.store.delete_all()

    def expire(self, name: str) -> None:
        """Delete the buckets of ``name`` past each interval's ``steps``.

        SQL and memory delete them; on Redis this is a no-op, its TTLs already did it.
        """
        (one,) = self._names(name)
        now = time.time()
        cutoffs = {
            interval_name: cutoff
            for interval_name, config in self.intervals.items()
            if (cutoff := config.expired_before(now)) is not None
        }
        if cutoffs:
            self.store.expire(one, cutoffs)
