"""The Samsara ingestion API: ``POST /v1/events`` and ``GET /v1/api-status``.

As the Samsara ingestion-api does: the ``Content-Type`` must match ``^application/(.+\\+)?json``;
a ``Content-Encoding: gzip`` body is gunzipped; ``X-Samsara-publishedTimestamp``, when sent,
must be an integer. The body is a JSON array of events, each with an integer ``timestamp``
(milliseconds), a string ``sourceId`` and a string ``eventName``; one bad event refuses the whole
batch with 400 and a list holding ``"OK"`` or the error for each event. Accepted events get
``receivedAt`` (server milliseconds) and ``publishedAt`` (from the header) unless they carry
them, plus ``@time`` from ``timestamp``, and go to the stream ``samsara`` with ``sourceId`` as
the partition key, which keeps each source's events in order. Success is 202.

Aion's own bounds, each refusing the batch like any invalid event: ``sourceId`` at most 256
characters (a partition key's limit), ``timestamp`` at most ``MAX_TIMESTAMP_MS`` (what an
event id can hold), and the JSON nesting limit of ``aion.core.jsonbody``.
"""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from aion.core.ids import MAX_KRONOS_TIME
from aion.core.jsonbody import decode_json
from aion.core.time import TICKS_PER_MILLISECOND, milliseconds_to_kronos_time
from aion.errors import AionError, ValidationError
from aion.server.errors import TooLarge, samsara_error
from aion.server.ingest.dedupe import BATCH_ID_HEADER, BatchDeduplicator
from aion.server.ingest.openapi import API_STATUS, SAMSARA_EVENTS
from aion.server.ingest.sink import EventSink, get_sink, namespace_for, read_body
from aion.streams.protocol import MAX_PARTITION_KEY_LENGTH

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_TIMESTAMP_MS",
    "PUBLISHED_TIMESTAMP_HEADER",
    "SAMSARA_STREAM",
    "event_errors",
    "samsara_router",
]

PUBLISHED_TIMESTAMP_HEADER = "X-Samsara-publishedTimestamp"
SAMSARA_STREAM = "samsara"
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_TIMESTAMP_MS = MAX_KRONOS_TIME // TICKS_PER_MILLISECOND
"""The latest ``timestamp`` an event id can hold (in the year 5236)."""
_SHOWN = 80
"""An error shows at most this many characters of a value."""
_JSON_TYPE = re.compile(r"^application/(.+\+)?json", re.IGNORECASE)
_LONG = re.compile(r"^-?\d{1,19}$")
_MISSING_HEADER_WARNING = {
    "status": "OK",
    "warning": "For completeness, please provide the 'X-Samsara-publishedTimestamp' header.",
}


def _show(value: object) -> str:
    """A value as the Clojure schema errors print it (strings quoted, nil for null), cut
    to ``_SHOWN`` characters."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and len(value) > _SHOWN:
        # Only the start is shown: no need to encode all of a long string.
        return msgspec.json.encode(value[:_SHOWN]).decode() + "..."
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def event_errors(event: object) -> str | None:
    """None for a valid event, else the error in the ingestion-api's style, e.g.
    ``{:timestamp (not (integer? "x"))}``."""
    if not isinstance(event, dict):
        return f"(not (map? {_show(event)}))"
    problems: list[str] = []
    timestamp = event.get("timestamp", ...)
    if timestamp is ...:
        problems.append(":timestamp missing-required-key")
    elif isinstance(timestamp, bool) or not isinstance(timestamp, int):
        problems.append(f":timestamp (not (integer? {_show(timestamp)}))")
    elif timestamp < 0:
        problems.append(f":timestamp (not (pos? {_show(timestamp)}))")
    elif timestamp > MAX_TIMESTAMP_MS:
        problems.append(f":timestamp (not (<= {_show(timestamp)} {MAX_TIMESTAMP_MS}))")
    for name in ("sourceId", "eventName"):
        value = event.get(name, ...)
        if value is ...:
            problems.append(f":{name} missing-required-key")
        elif not isinstance(value, str):
            problems.append(f":{name} (not (instance? java.lang.String {_show(value)}))")
        elif name == "sourceId" and len(value) > MAX_PARTITION_KEY_LENGTH:
            # sourceId is the partition key, which Kinesis caps at 256 characters
            problems.append(
                f":sourceId (not (<= (count {_show(value)}) {MAX_PARTITION_KEY_LENGTH}))"
            )
    return "{" + ", ".join(problems) + "}" if problems else None


SinkDep = Annotated[EventSink, Depends(get_sink)]


def samsara_router(
    namespace: str | None = None,
    stream: str = SAMSARA_STREAM,
    dedupe_capacity: int = 100_000,
) -> APIRouter:
    """The Samsara ingestion routes, writing to ``stream`` in ``namespace``."""
    router = APIRouter(tags=["samsara"])
    dedupe = BatchDeduplicator(dedupe_capacity)

    @router.post(
        "/v1/events", status_code=202, response_class=Response, openapi_extra=SAMSARA_EVENTS
    )
    async def post_events(request: Request, sink: SinkDep) -> Response:
        """Validate a batch of events as a whole and store it."""
        content_type = request.headers.get("content-type", "")
        if not _JSON_TYPE.match(content_type):
            message = "Invalid format, content-type must be application/json"
            return samsara_error(ValidationError(message, "Content-Type"))
        published_header = request.headers.get(PUBLISHED_TIMESTAMP_HEADER)
        published_at: int | None = None
        if published_header is not None:
            if not _LONG.match(published_header.strip()):
                message = "X-Samsara-publishedTimestamp must be a valid timestamp."
                return samsara_error(ValidationError(message, PUBLISHED_TIMESTAMP_HEADER))
            published_at = int(published_header.strip())
        try:
            body = decode_json(await read_body(request, MAX_BODY_BYTES), envelope=1)
        except TooLarge as exc:
            return samsara_error(exc)
        except ValidationError as exc:
            return samsara_error(exc, f"Invalid JSON body: {exc}")
        if not isinstance(body, list):
            return samsara_error(
                ValidationError("The body must be a JSON array of events.", "body")
            )
        verdicts = [event_errors(event) for event in body]
        if any(v is not None for v in verdicts):
            return JSONResponse([v or "OK" for v in verdicts], status_code=400)
        received_at = time.time_ns() // 1_000_000
        events: list[dict[str, Any]] = []
        keys: list[str] = []
        for event in body:
            stored = dict(event)
            stored.setdefault("receivedAt", received_at)
            if published_at is not None:
                stored.setdefault("publishedAt", published_at)
            stored["@time"] = milliseconds_to_kronos_time(event["timestamp"])
            events.append(stored)
            keys.append(event["sourceId"])
        ns = namespace_for(request, namespace)
        batch_id = request.headers.get(BATCH_ID_HEADER)

        async def store() -> None:
            if events:
                await sink.ingest(ns, stream, events, keys, batch_id)

        try:
            await dedupe.run_once(f"{ns}/{stream}", batch_id, store)
        except AionError as exc:  # a backend down is a 503, events the sink refuses a 400
            return samsara_error(exc)
        if published_at is None:
            return JSONResponse(_MISSING_HEADER_WARNING, status_code=202)
        return Response(status_code=202)

    @router.get("/v1/api-status", responses=API_STATUS)
    async def api_status(request: Request) -> JSONResponse:
        """``online`` while the app has a sink to write to."""
        if getattr(request.app.state, "sink", None) is None:
            return JSONResponse({"status": "offline"}, status_code=503)
        return JSONResponse({"status": "online"})

    return router
