"""The timeseries HTTP API under ``/v1/timeseries``: the rollups of ``[[rollups]]``, read back.

Every route takes ``?namespace=`` (default: the server's default namespace) and sees only the
rules of that namespace and the timeseries they make; a key of another namespace gets 403.

* ``GET /v1/timeseries``: every rule of the namespace with its timeseries names and counters.
* ``GET /v1/timeseries/{name}``: one bucket at ``timestamp`` (default now).
* ``GET /v1/timeseries/{name}/series``: a range of buckets.

Reads answer ``{"target", "rule", "type", "interval", "datapoints": [[value, epoch_ms], ...]}``,
the shape Grafana's JSON data sources take (ascending time). A value is a number for counts,
gauges and transforms, an object for a histogram (value -> count), a list for a series or a
set. Times are epoch seconds, ISO-8601, ``now`` or relative (``-1h``). Errors are Aion's
``{"error": {"type", "message", "field"}}``: 400 names the parameter, 404 an unknown timeseries
or rule, 503 a backend that is down. A name no event has written yet reads as empty buckets.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from aion.core.time import TICKS_PER_SECOND, parse_time
from aion.errors import AionError, BackendUnavailable, NotFound, ValidationError
from aion.server.errors import native_error
from aion.server.ops.auth import request_namespace
from aion.server.rollups.openapi import TIMESERIES_LIST, TIMESERIES_READ
from aion.server.rollups.rules import RollupRule
from aion.server.rollups.worker import RollupWorker
from aion.timeseries import StoreError, Timeseries

__all__ = ["router"]

_encode = msgspec.json.Encoder().encode
_MAX_STEPS = 100_000

RuleQuery = Annotated[
    str | None,
    Query(description="The rule's name, when several rules could have made this timeseries."),
]
IntervalQuery = Annotated[
    str | None, Query(description="An interval of the rule (default: its first one).")
]
TransformQuery = Annotated[
    str | None,
    Query(
        description="mean, count, min, max, sum or rate (comma-separated for several: the "
        "value becomes {transform: result})."
    ),
]
CondenseQuery = Annotated[
    bool, Query(description="Merge the resolution rows of a fine interval into one value.")
]


async def _answer(work: Callable[[], Awaitable[dict[str, Any]]]) -> Response:
    try:
        body = await work()
    except AionError as exc:
        return native_error(exc)
    return Response(_encode(body), media_type="application/json")


def _worker(request: Request) -> RollupWorker | None:
    worker: RollupWorker | None = getattr(request.app.state, "rollups", None)
    return worker


def _rules(worker: RollupWorker | None, namespace: str) -> list[RollupRule]:
    return [r for r in (worker.rules if worker is not None else ()) if r.namespace == namespace]


def _resolve(
    worker: RollupWorker | None, namespace: str, name: str, rule_name: str | None
) -> tuple[RollupRule, Timeseries]:
    rules = _rules(worker, namespace)
    if rule_name is not None:
        chosen = [r for r in rules if r.name == rule_name]
        if not chosen:
            raise NotFound(f"no rollup rule named {rule_name!r}")
        if not chosen[0].timeseries.matches(name):
            raise NotFound(f"rule {rule_name!r} does not make a timeseries named {name!r}")
    else:
        chosen = [r for r in rules if r.timeseries.matches(name)]
        if not chosen:
            raise NotFound(f"no rollup rule makes a timeseries named {name!r}")
        if len(chosen) > 1:
            names = ", ".join(repr(r.name) for r in chosen)
            raise ValidationError(f"{name!r} matches several rules ({names}); pass rule=", "rule")
    rule = chosen[0]
    ts = worker.timeseries.get(rule.name) if worker is not None else None
    if ts is None:
        raise BackendUnavailable(rule.backend.split(":", 1)[0], f"rule {rule.name!r} is not open")
    return rule, ts


def _interval(rule: RollupRule, interval: str | None) -> str:
    if interval is None:
        return next(iter(rule.intervals))
    if interval not in rule.intervals:
        known = ", ".join(rule.intervals)
        raise ValidationError(f"interval {interval!r} is not one of {known}", "interval")
    return interval


def _seconds(text: str | None, field: str) -> float | None:
    if text is None:
        return None
    try:
        return parse_time(text) / TICKS_PER_SECOND
    except AionError as exc:
        raise ValidationError(f"{field}: {exc}", field) from None


def _transform(text: str | None) -> Any:
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ValidationError("transform is empty", "transform")
    return names[0] if len(names) == 1 else names


def _jsonable(value: Any) -> Any:
    """Timeseries data as JSON: object keys become strings, sets sorted lists."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(v) for v in value), key=lambda v: (str(type(v)), v))
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _points(rule: RollupRule, name: str, interval: str, data: dict[int, Any]) -> dict[str, Any]:
    return {
        "target": name,
        "rule": rule.name,
        "type": rule.type.value,
        "interval": interval,
        "datapoints": [[_jsonable(v), int(ts * 1000)] for ts, v in sorted(data.items())],
    }


def _checked(call: Callable[[], Any], field: str = "transform") -> Any:
    """Run a read; a ValidationError without a field is about the transform (the only
    argument left unchecked before the read)."""
    try:
        return call()
    except ValidationError as exc:
        if exc.field is None:
            exc.field = field
        raise


def router() -> APIRouter:
    """The ``/v1/timeseries`` routes."""
    api = APIRouter(prefix="/v1/timeseries", tags=["timeseries"])

    @api.get(
        "", summary="List the rollup rules and their timeseries", openapi_extra=TIMESERIES_LIST
    )
    async def list_rollups(request: Request) -> Response:
        """Every ``[[rollups]]`` rule of the namespace: what it reads, what it makes, its
        counters, and the names of the timeseries it has written (``available`` is false
        while its backend is down)."""
        worker = _worker(request)

        async def work() -> dict[str, Any]:
            out = []
            for rule in _rules(worker, request_namespace(request)):
                entry: dict[str, Any] = {
                    "rule": rule.name,
                    "namespace": rule.namespace,
                    "stream": rule.stream,
                    "prefix": rule.prefix,
                    "timeseries": rule.timeseries.text,
                    "type": rule.type.value,
                    "value": None if rule.value is None else rule.value.text,
                    "intervals": _jsonable(dict(rule.intervals)),
                    "backend": rule.backend.split(":", 1)[0],
                    "stats": asdict(worker.stats[rule.name]) if worker is not None else {},
                    "available": False,
                    "names": [],
                }
                ts = worker.timeseries.get(rule.name) if worker is not None else None
                if ts is not None:
                    try:
                        names = await asyncio.to_thread(ts.list)
                    except (BackendUnavailable, StoreError) as exc:
                        entry["error"] = str(exc)
                    else:
                        entry["available"] = True
                        entry["names"] = [n for n in names if rule.timeseries.matches(n)]
                out.append(entry)
            return {"rollups": out}

        return await _answer(work)

    @api.get(
        "/{name:path}/series", summary="Read a range of buckets", openapi_extra=TIMESERIES_READ
    )
    async def read_series(
        request: Request,
        name: str,
        rule: RuleQuery = None,
        interval: IntervalQuery = None,
        start: Annotated[str | None, Query(description="First bucket's time.")] = None,
        end: Annotated[str | None, Query(description="Last bucket's time.")] = None,
        steps: Annotated[
            int | None, Query(description="How many buckets (with start or end alone).")
        ] = None,
        transform: TransformQuery = None,
        condense: CondenseQuery = False,
        collapse: Annotated[
            bool, Query(description="Merge the whole range into one point.")
        ] = False,
    ) -> Response:
        """Every bucket of a range, oldest first, empty ones holding the type's empty value.
        ``start`` and ``end``: all buckets between; one of them: ``steps`` buckets from or up
        to it; neither: ``steps`` buckets ending now (``steps`` defaults to the interval's)."""

        async def work() -> dict[str, Any]:
            chosen, ts = _resolve(_worker(request), request_namespace(request), name, rule)
            which = _interval(chosen, interval)
            first, last = _seconds(start, "start"), _seconds(end, "end")
            if steps is not None and not 1 <= steps <= _MAX_STEPS:
                raise ValidationError(f"steps must be from 1 to {_MAX_STEPS}", "steps")
            how = _transform(transform)
            data = await asyncio.to_thread(
                _checked,
                lambda: ts.series(
                    name, which, start=first, end=last, steps=steps, transform=how,
                    condense=condense, collapse=collapse,
                ),
            )  # fmt: skip
            return _points(chosen, name, which, data)

        return await _answer(work)

    @api.get("/{name:path}", summary="Read one bucket", openapi_extra=TIMESERIES_READ)
    async def read_bucket(
        request: Request,
        name: str,
        rule: RuleQuery = None,
        interval: IntervalQuery = None,
        timestamp: Annotated[
            str | None, Query(description="A time inside the bucket (default now).")
        ] = None,
        transform: TransformQuery = None,
        condense: CondenseQuery = False,
    ) -> Response:
        """The bucket holding ``timestamp``: one point, or one per resolution row of a fine
        interval unless ``condense``."""

        async def work() -> dict[str, Any]:
            chosen, ts = _resolve(_worker(request), request_namespace(request), name, rule)
            which = _interval(chosen, interval)
            at = _seconds(timestamp, "timestamp")
            how = _transform(transform)
            data = await asyncio.to_thread(
                _checked,
                lambda: ts.get(name, which, timestamp=at, transform=how, condense=condense),
            )
            return _points(chosen, name, which, data)

        return await _answer(work)

    return api
