"""The dashboard: the page at ``/ui`` and the JSON and SSE endpoints under ``/ui/api``.

The page is plain HTML, CSS and JavaScript shipped in the package (``static/ui``, served by
:mod:`aion.server.dashboard.page`), so there is no build step and no request leaves the
server: a Content-Security-Policy of ``'self'`` says so to the browser too. Endpoints:

- ``GET /ui/api/namespaces``: the namespaces to offer;
- ``GET /ui/api/streams``: the streams of a namespace with events per minute (the event
  store's, and a separate streams engine's);
- ``GET /ui/api/tail``: a stream's new events as server-sent events;
- ``GET /ui/api/bucket``, ``/ui/api/bucket/history`` and ``/ui/api/buckets``: the Initial
  State bucket view (a key's history, the buckets' names);
- ``GET /ui/api/rollup``: a field of a stream rolled up over an interval with a transform.

Each read is bounded by a cap (see :mod:`aion.server.dashboard.reads`); errors are
``{"error": {"type", "message", "field"}}`` with the status of :mod:`aion.server.errors` (400
for a bad parameter, 503 for a backend that is down).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from aion.core.events import validate_stream_name
from aion.core.time import TICKS_PER_MILLISECOND, kronos_time_now
from aion.errors import AionError, ValidationError
from aion.server.dashboard.page import static_file
from aion.server.dashboard.reads import (
    bucket_names,
    key_history,
    newest_events,
    record_rates,
    stream_rates,
)
from aion.server.dashboard.rollup import INTERVALS, TRANSFORMS, rollup
from aion.server.dashboard.shapes import (
    PAGE_RESPONSES,
    REDIRECT_RESPONSES,
    STATIC_OPENAPI,
    BucketNameOut,
    BucketOut,
    BucketsOut,
    HistoryOut,
    NamespacesOut,
    RollupOut,
    StreamsOut,
    bucket_key_out,
    encode,
    openapi_responses,
    stream_rate_out,
)
from aion.server.dashboard.stats import TICKS_PER_MINUTE, downsample, summarise_bucket
from aion.server.dashboard.tail import TailSettings, tail_stream
from aion.server.errors import native_error
from aion.server.openapi_shapes import AION_ERROR, error_response
from aion.server.ops.auth import key_grant, request_namespace
from aion.server.ops.auth_rules import ALL_NAMESPACES
from aion.server.service import EventService
from aion.streams.protocol import StreamLog

__all__ = ["router"]

MAX_STREAMS = 500
# How many bucket-name records are read for the names of a namespace's buckets.
MAX_BUCKET_NAMES = 1000
_TAIL_MESSAGE = {
    "type": "object",
    "description": "One server-sent event: `event` (an event's JSON in `data`, its `@id` as "
    "`id`) or `ready` (the backlog is sent); the first message only sets `retry`.",
    "properties": {
        "event": {"type": "string", "enum": ["event", "ready"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}
Namespace = Annotated[str | None, Query(description="default: the server's default namespace")]
Stream = Annotated[str, Query(description="a stream name")]


def _service(request: Request) -> EventService:
    service: EventService = request.app.state.service
    return service


async def _answer(work: Callable[[], Awaitable[Response]]) -> Response:
    """Run an endpoint, answering Aion errors in Aion's error shape (never cached, as the
    dashboard's answers are not)."""
    try:
        return await work()
    except AionError as exc:
        return native_error(exc, headers={"Cache-Control": "no-store"})


def _separate_streams(request: Request) -> StreamLog | None:
    """The streams engine when it keeps its streams apart from the event store (a Redis or
    NATS URL); None when the sharded streams are the event store's own (SQL)."""
    if _service(request).config.streams_backend is not None:
        return None
    log: StreamLog | None = getattr(request.app.state, "stream_log", None)
    return log


def _by_stream(bucket: BucketNameOut) -> str:
    return bucket.stream


def _check_event_id(event_id: str | None) -> None:
    """A resume id must be an ``@id``; checked up front so a bad one is a 400, not a stream
    that breaks after its headers are sent."""
    if event_id is None:
        return
    try:
        uuid.UUID(event_id)
    except ValueError as exc:
        raise ValidationError(f"{event_id!r} is not an event @id", "after") from exc


def router(
    window_minutes: int = 15,
    rate_cap: int = 5000,
    bucket_scan: int = 5000,
    history_cap: int = 50_000,
    tail: TailSettings = TailSettings(),
) -> APIRouter:
    """The dashboard routes. The caps bound what one request reads from the store."""
    api = APIRouter(tags=["dashboard"])

    @api.get("/ui", status_code=308, response_class=Response, responses=REDIRECT_RESPONSES)
    async def ui_root() -> Response:
        # The page uses relative URLs, so it must be served from the directory form.
        return RedirectResponse("ui/", status_code=308)

    @api.get("/ui/", response_class=Response, responses=PAGE_RESPONSES)
    async def ui_page() -> Response:
        return static_file("index.html")

    @api.get("/ui/static/{path:path}", response_class=Response, openapi_extra=STATIC_OPENAPI)
    async def ui_static(path: str) -> Response:
        return static_file(path)

    @api.get("/ui/api/namespaces", responses=openapi_responses(NamespacesOut))
    async def namespaces(request: Request) -> Response:
        """The namespaces the page offers: the key's own namespace for a key of one namespace;
        otherwise the configured allow-list, else the default one (the store cannot list
        namespaces; ``open`` says any other name may be typed in)."""
        config = _service(request).config
        grant = key_grant(request.scope)
        if grant is not None and grant.namespace != ALL_NAMESPACES:
            # A key for one namespace sees that one only: never the names of other tenants.
            return encode(
                NamespacesOut(default=grant.namespace, namespaces=[grant.namespace], open=False)
            )
        names = sorted({config.default_namespace, *config.namespaces})
        return encode(
            NamespacesOut(
                default=config.default_namespace, namespaces=names, open=not config.namespaces
            )
        )

    @api.get("/ui/api/streams", responses=openapi_responses(StreamsOut))
    async def streams(
        request: Request,
        namespace: Namespace = None,
        window: Annotated[int, Query(ge=1, le=120, description="minutes")] = window_minutes,
    ) -> Response:
        """The streams of a namespace (at most 500 of each kind, by name) with events per
        minute over the last ``window`` minutes, counted in the store from each stream's
        events (at most the cap; beyond it the rate is estimated): the event store's streams,
        then, when the streams engine is a service of its own (Redis, NATS), its sharded
        streams (``kind: records``)."""

        async def work() -> Response:
            service = _service(request)
            ns = request_namespace(request)
            now = kronos_time_now()
            rates, truncated = await stream_rates(service, ns, now, window, rate_cap, MAX_STREAMS)
            shown = [stream_rate_out(s, r) for s, r in rates.items()]
            engine = _separate_streams(request)
            if engine is not None:
                names = await engine.list_streams(ns)
                truncated = truncated or len(names) > MAX_STREAMS
                found = await record_rates(engine, ns, names[:MAX_STREAMS], now, window, rate_cap)
                shown += [stream_rate_out(s, r, "records") for s, r in found.items()]
            return encode(
                StreamsOut(
                    namespace=ns,
                    now_ms=now // TICKS_PER_MILLISECOND,
                    window_minutes=window,
                    cap=rate_cap,
                    streams=shown,
                    truncated=truncated,
                )
            )

        return await _answer(work)

    @api.get(
        "/ui/api/tail",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {"schema": _TAIL_MESSAGE}}},
            400: error_response("A bad parameter", AION_ERROR),
            503: error_response("A backend is unavailable", AION_ERROR),
        },
    )
    async def tail_events(
        request: Request,
        stream: Stream,
        namespace: Namespace = None,
        after: Annotated[str | None, Query(description="resume after this @id")] = None,
    ) -> Response:
        """Server-sent events: ``event: event`` messages whose data is an event's JSON and
        whose id is its ``@id`` (first the newest few, then new ones as they are stored), and
        one ``event: ready`` once the backlog is sent. A connection ends after a few seconds;
        ``EventSource`` reconnects with ``Last-Event-ID`` and resumes after that event."""

        async def work() -> Response:
            service = _service(request)
            ns = request_namespace(request)
            validate_stream_name(stream)
            resume = request.headers.get("last-event-id") or after
            _check_event_id(resume)
            return StreamingResponse(
                tail_stream(service, ns, stream, resume, tail),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            )

        return await _answer(work)

    @api.get("/ui/api/bucket", responses=openapi_responses(BucketOut))
    async def bucket(
        request: Request,
        stream: Stream,
        namespace: Namespace = None,
        points: Annotated[int, Query(ge=2, le=500, description="points per key")] = 60,
    ) -> Response:
        """An Initial State bucket: for each key, the latest value and its recent numeric
        points, from the stream's newest events (at most the scan cap)."""

        async def work() -> Response:
            service = _service(request)
            ns = request_namespace(request)
            validate_stream_name(stream)
            events = await newest_events(service, ns, stream, bucket_scan)
            keys, skipped = summarise_bucket(events, points)
            named = (await bucket_names(service, ns, MAX_BUCKET_NAMES)).get(stream)
            return encode(
                BucketOut(
                    namespace=ns,
                    stream=stream,
                    name=named.name if named else None,
                    keys=[bucket_key_out(k) for k in keys],
                    scanned=len(events),
                    skipped=skipped,
                )
            )

        return await _answer(work)

    @api.get("/ui/api/buckets", responses=openapi_responses(BucketsOut))
    async def buckets(request: Request, namespace: Namespace = None) -> Response:
        """The Initial State buckets of a namespace that ``/api/buckets`` named: per stream,
        its bucket key and newest bucket name (from the newest 1,000 name records)."""

        async def work() -> Response:
            ns = request_namespace(request)
            found = await bucket_names(_service(request), ns, MAX_BUCKET_NAMES)
            listed = [
                BucketNameOut(stream=s, key=b.key, name=b.name) for s, b in sorted(found.items())
            ]
            return encode(BucketsOut(namespace=ns, buckets=listed))

        return await _answer(work)

    @api.get("/ui/api/bucket/history", responses=openapi_responses(HistoryOut))
    async def bucket_history(
        request: Request,
        stream: Stream,
        key: Annotated[str, Query(description="the bucket key")],
        namespace: Namespace = None,
        minutes: Annotated[int, Query(ge=1, le=60 * 24 * 366)] = 60,
        max_points: Annotated[int, Query(ge=2, le=2000)] = 500,
    ) -> Response:
        """One key's values over the last ``minutes``: its numeric ones downsampled to
        ``max_points`` by averaging equal time bins, and its newest ``max_points`` text ones."""

        async def work() -> Response:
            service = _service(request)
            ns = request_namespace(request)
            validate_stream_name(stream)
            end = kronos_time_now()
            start = end - minutes * TICKS_PER_MINUTE
            found = await key_history(
                service, ns, stream, key, (start, end), history_cap, max_points
            )
            return encode(
                HistoryOut(
                    namespace=ns,
                    stream=stream,
                    key=key,
                    start_ms=start // TICKS_PER_MILLISECOND,
                    end_ms=end // TICKS_PER_MILLISECOND,
                    max_points=max_points,
                    points=[
                        (t // TICKS_PER_MILLISECOND, v)
                        for t, v in downsample(found.points, max_points)
                    ],
                    texts=[(t // TICKS_PER_MILLISECOND, v) for t, v in found.texts],
                    truncated=found.truncated,
                )
            )

        return await _answer(work)

    @api.get("/ui/api/rollup", responses=openapi_responses(RollupOut))
    async def rollup_chart(
        request: Request,
        stream: Stream,
        namespace: Namespace = None,
        field: Annotated[str, Query(description="the numeric event field")] = "value",
        key: Annotated[
            str | None, Query(description="only events whose `key` is this (buckets)")
        ] = None,
        interval: Annotated[str, Query(description=", ".join(INTERVALS))] = "minute",
        transform: Annotated[str, Query(description=", ".join(TRANSFORMS))] = "mean",
    ) -> Response:
        """A numeric field of a stream rolled up with ``aion.timeseries`` (a ``series``
        Timeseries in memory): one point per interval bucket over the interval's window."""

        async def work() -> Response:
            service = _service(request)
            ns = request_namespace(request)
            validate_stream_name(stream)
            result = await rollup(service, ns, stream, field, key, interval, transform, history_cap)
            return encode(
                RollupOut(
                    namespace=ns,
                    stream=stream,
                    field=field,
                    interval=interval,
                    transform=transform,
                    points=[(t * 1000, v) for t, v in result.points],
                    scanned=result.scanned,
                    truncated=result.truncated,
                )
            )

        return await _answer(work)

    return api
