"""The Kronos HTTP API (``/1.0/…``), with Kronos's envelopes, streaming and serving modes.

- ``put`` stores the valid events of a request even when others are refused (partial
  success, ``@success`` false, HTTP 200), or 503 when a backend was down;
- ``get`` and ``streams`` stream ``\\r\\n``-separated lines in chunks of ``flush_size`` bytes;
- request bodies are checked against typed schemas, and a refusal names the field.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from aion.core.events import LINE_END, LinesPage
from aion.core.jsonbody import InvalidJson, decode_json
from aion.errors import AionError, BackendUnavailable, Forbidden, ValidationError
from aion.server.config import ServingMode
from aion.server.envelope import JSON, json_response
from aion.server.errors import kronos_error
from aion.server.kronos.openapi import kronos_operation
from aion.server.ops.auth import authorize_namespace
from aion.server.service import BackendOutcome, EventService
from aion.version import __version__

__all__ = ["BLOCKED_MESSAGE", "router"]

BLOCKED_MESSAGE = "kronosd is configured to block access to this endpoint."
MAX_LIMIT = 2**31 - 1
S = TypeVar("S")
# Times and limits are 64-bit integers: JSON allows any integer, and a larger one is a mistake
# to name, not a number to clamp.
Time = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Limit = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
_ENVELOPE = 3
"""A put body's events sit under ``{"events": {stream: [...]}}``: three levels."""


class PutBody(msgspec.Struct, kw_only=True):
    """``/1.0/events/put``: events per stream."""

    events: dict[str, msgspec.Raw]
    namespace: str | None = None


class GetBody(msgspec.Struct, kw_only=True):
    """``/1.0/events/get``: an inclusive time range, or strictly after ``start_id``."""

    stream: str
    end_time: Time
    start_time: Time = 0
    start_id: str | None = None
    limit: Limit | None = None
    order: Literal["ascending", "descending"] = "ascending"
    namespace: str | None = None


class DeleteBody(msgspec.Struct, kw_only=True):
    """``/1.0/events/delete``: the same range rules as ``get``."""

    stream: str
    end_time: Time
    start_time: Time = 0
    start_id: str | None = None
    namespace: str | None = None


class StreamsBody(msgspec.Struct, kw_only=True):
    """``/1.0/streams``."""

    namespace: str | None = None


class SchemaBody(msgspec.Struct, kw_only=True):
    """``/1.0/streams/infer_schema``."""

    stream: str
    namespace: str | None = None


_MODES: dict[str, set[ServingMode]] = {
    "index": {ServingMode.ALL, ServingMode.COLLECTOR, ServingMode.READONLY},
    "put": {ServingMode.ALL, ServingMode.COLLECTOR},
    "get": {ServingMode.ALL, ServingMode.READONLY},
    "delete": {ServingMode.ALL},
    "streams": {ServingMode.ALL, ServingMode.READONLY},
    "infer_schema": {ServingMode.ALL, ServingMode.READONLY},
}


def service_of(request: Request) -> EventService:
    """The EventService the app was built with."""
    service: EventService = request.app.state.service
    return service


def _blocked(request: Request, endpoint: str) -> Response | None:
    if service_of(request).config.serving_mode in _MODES[endpoint]:
        return None
    return kronos_error(Forbidden(BLOCKED_MESSAGE))  # no @took, as Kronos answered it


def _namespace(request: Request, named: str | None) -> str:
    """The namespace the body names, validated, and authorized for the request's key: the
    body is decoded once, here, and the key check decides on the value the handler uses."""
    namespace = service_of(request).namespace(named)
    authorize_namespace(request.scope, namespace)
    return namespace


async def _parse(request: Request, body_type: type[S]) -> S:
    raw = await request.body()
    envelope = _ENVELOPE if body_type is PutBody else 0
    try:
        return decode_json(raw, envelope=envelope, as_type=body_type)
    except msgspec.ValidationError as exc:
        message = str(exc)
        at = message.rpartition(" - at `$.")[2].rstrip("`") if " - at `$." in message else ""
        if message.startswith("Expected `object`") and not at:
            # the top level itself is not an object
            raise ValidationError("Request body must be a JSON object.", "body") from exc
        raise ValidationError(f"Invalid request body: {exc}", at or "body") from exc
    except InvalidJson as exc:
        raise ValidationError("Request body must be valid JSON.", "body") from exc


def _endpoint(
    name: str,
) -> Callable[
    [Callable[[Request, float], Awaitable[Response]]], Callable[..., Awaitable[Response]]
]:
    """Serving-mode check, ``@took`` timing and error envelopes around a Kronos handler."""

    def wrap(
        handler: Callable[[Request, float], Awaitable[Response]],
    ) -> Callable[..., Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            blocked = _blocked(request, name)
            if blocked is not None:
                return blocked
            try:
                return await handler(request, started)
            except AionError as exc:
                return kronos_error(exc, started)

        endpoint.__name__ = f"kronos_{name}"
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap


def _outcomes(outcomes: dict[str, BackendOutcome], field: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for backend, o in outcomes.items():
        out[backend] = {field: o.count}
        if o.error is not None:
            out[backend]["@errors"] = [str(o.error)]
    return out


@_endpoint("index")
async def index(request: Request, started: float) -> Response:
    """Node identity and the liveness of every backend."""
    service = service_of(request)
    health = await service.health()
    storage = {
        name: {"alive": alive, "backend": type(service.stores[name]).__name__}
        for name, alive in health.items()
    }
    return json_response(
        {
            "service": "kronosd",
            "version": __version__,
            "id": service.config.node_id,
            "storage": storage,
            "@success": True,
        },
        started=started,
    )


@_endpoint("put")
async def put(request: Request, started: float) -> Response:
    """Insert events per stream; valid events are stored even when others are refused."""
    body = await _parse(request, PutBody)
    service = service_of(request)
    outcome = await service.put(_namespace(request, body.namespace), body.events)
    response: dict[str, Any] = {
        stream: _outcomes(per_backend, "num_inserted")
        for stream, per_backend in outcome.streams.items()
    }
    backend_errors = [
        f"{stream}/{backend}: {o.error}"
        for stream, per_backend in outcome.streams.items()
        for backend, o in per_backend.items()
        if o.error is not None
    ]
    errors = outcome.errors + backend_errors
    response["@success"] = not errors
    if errors:
        response["@errors"] = errors
    return json_response(response, status=503 if outcome.unavailable else 200, started=started)


async def _chunks(blocks: AsyncIterator[bytes], flush_size: int) -> AsyncIterator[bytes]:
    """Buffers of ``LINE_END``-ended lines, regrouped into chunks of at least ``flush_size``
    bytes (the last one may be shorter), each cut at a line end."""
    pending: list[bytes] = []
    size = 0
    for_line_end = len(LINE_END)
    async for block in blocks:
        start = 0
        while len(block) - start >= flush_size - size:
            # The first line end at or past the point where the chunk would be full.
            full_at = start + flush_size - size
            end = block.find(LINE_END, max(start, full_at - for_line_end)) + for_line_end
            pending.append(block[start:end])
            yield b"".join(pending)
            pending.clear()
            size = 0
            start = end
        if start < len(block):
            pending.append(block[start:])
            size += len(block) - start
    if pending:
        yield b"".join(pending)


async def _lines(first: LinesPage | None, rest: AsyncIterator[LinesPage]) -> AsyncIterator[bytes]:
    if first is None:
        return
    yield first.lines
    async for page in rest:
        yield page.lines


@_endpoint("get")
async def get(request: Request, started: float) -> Response:
    """Stream the events of a range as ``\\r\\n``-separated JSON, in id order."""
    body = await _parse(request, GetBody)
    service = service_of(request)
    namespace = _namespace(request, body.namespace)
    limit = MAX_LIMIT if body.limit is None else body.limit
    pages = service.retrieve_lines(
        namespace,
        body.stream,
        body.start_time,
        body.end_time,
        body.start_id,
        descending=body.order == "descending",
        limit=limit,
    )
    # Read the first event before answering, so a backend outage is a 503, not a cut stream.
    first = await anext(pages, None)
    return StreamingResponse(
        _chunks(_lines(first, pages), service.config.flush_size), media_type=JSON
    )


@_endpoint("delete")
async def delete(request: Request, started: float) -> Response:
    """Delete a range of a stream from every backend of its route; counts per backend."""
    body = await _parse(request, DeleteBody)
    service = service_of(request)
    outcomes = await service.delete(
        _namespace(request, body.namespace), body.stream, body.start_time, body.end_time,
        body.start_id,
    )  # fmt: skip
    errors = [f"{b}: {o.error}" for b, o in outcomes.items() if o.error is not None]
    response: dict[str, Any] = {body.stream: _outcomes(outcomes, "num_deleted")}
    response["@success"] = not errors
    if errors:
        response["@errors"] = errors
    down = any(isinstance(o.error, BackendUnavailable) for o in outcomes.values())
    return json_response(response, status=503 if down else 200, started=started)


@_endpoint("streams")
async def streams(request: Request, started: float) -> Response:
    """The streams of a namespace, one per ``\\r\\n``-terminated line."""
    body = await _parse(request, StreamsBody)
    service = service_of(request)
    names = await service.list_streams(_namespace(request, body.namespace))

    async def lines() -> AsyncIterator[bytes]:
        if names:
            yield b"".join(name.encode() + LINE_END for name in names)

    return StreamingResponse(_chunks(lines(), service.config.flush_size), media_type=JSON)


@_endpoint("infer_schema")
async def infer_schema(request: Request, started: float) -> Response:
    """A JSON Schema (draft-04) inferred from the latest 100 events of a stream."""
    body = await _parse(request, SchemaBody)
    service = service_of(request)
    namespace = _namespace(request, body.namespace)
    schema = await service.infer_schema(namespace, body.stream)
    return json_response(
        {"stream": body.stream, "namespace": namespace, "schema": schema, "@success": True},
        started=started,
    )


router = APIRouter(tags=["kronos"])
router.add_api_route(
    "/1.0/index",
    index,
    methods=["GET"],
    response_class=Response,
    openapi_extra=kronos_operation("/1.0/index"),
)
for _path, _handler, _body in [
    ("/1.0/events/put", put, PutBody),
    ("/1.0/events/get", get, GetBody),
    ("/1.0/events/delete", delete, DeleteBody),
    ("/1.0/streams", streams, StreamsBody),
    ("/1.0/streams/infer_schema", infer_schema, SchemaBody),
]:
    router.add_api_route(
        _path,
        _handler,
        methods=["POST"],
        response_class=Response,
        openapi_extra=kronos_operation(_path, _body),
    )
