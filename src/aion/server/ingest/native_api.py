"""The native batch ingestion endpoint: ``POST /v1/ingest/{namespace}/{stream}``.

The body is a JSON array of events (gzip allowed). The batch is stored all or nothing (with
``?partial=true``, as Kronos's put: the valid events are stored, the refused ones named in
``@errors``), and a retried batch with the same ``X-Aion-Batch-Id`` is stored once. Aion's
buffered clients (the non-blocking ``KronosClient`` among them) send here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from aion.core.jsonbody import InvalidJson, decode_json
from aion.errors import AionError, ValidationError
from aion.server.envelope import json_response
from aion.server.errors import kronos_error
from aion.server.ingest.dedupe import BATCH_ID_HEADER, BatchDeduplicator
from aion.server.ingest.openapi import ingest_operation
from aion.server.ingest.sink import read_body
from aion.server.ops.auth import request_namespace
from aion.server.service import EventService

__all__ = ["router"]


def _flag(value: str | None, field: str) -> bool:
    """A boolean query parameter: absent, ``false``/``0`` or ``true``/``1``."""
    if value is None or value.lower() in ("false", "0"):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise ValidationError(f"{field} must be true or false, not {value[:20]!r}", field)


def router(dedupe_capacity: int = 100_000) -> APIRouter:
    """The ingestion route, with its own memory of recent batch ids."""
    dedupe = BatchDeduplicator(dedupe_capacity)
    api = APIRouter(tags=["ingest"])

    async def ingest_default(stream: str, request: Request) -> Response:
        """Store a JSON array of events in a stream of the default namespace."""
        return await ingest(request.app.state.config.default_namespace, stream, request)

    async def ingest(namespace: str, stream: str, request: Request) -> Response:
        """Store a JSON array of events in one stream, all or nothing."""
        service: EventService = request.app.state.service
        try:
            raw = await read_body(request, service.config.max_body_bytes)
            try:
                events: Any = decode_json(raw, envelope=1)  # the batch's array wraps events
            except InvalidJson as exc:
                raise ValidationError("Request body must be valid JSON.", "body") from exc
            if not isinstance(events, list):
                raise ValidationError("the body must be a JSON array of events", "body")
            ns = request_namespace(request)

            batch_id = request.headers.get(BATCH_ID_HEADER)
            partial = _flag(request.query_params.get("partial"), "partial")
            fresh = True  # False when a store had the batch id (another process stored it)
            inserted = len(events)
            errors: list[str] = []

            async def store() -> None:
                nonlocal fresh, inserted
                if partial:
                    fresh, inserted, refused = await service.ingest_valid(
                        ns, stream, events, batch_id=batch_id
                    )
                    errors.extend(refused)
                else:
                    fresh = await service.ingest(ns, stream, events, batch_id=batch_id)

            stored = await dedupe.run_once(f"{ns}/{stream}", batch_id, store) and fresh
        except AionError as exc:  # a body over the limit is a 413, see aion.server.errors
            return kronos_error(exc)
        body: dict[str, Any] = {
            "stream": stream, "namespace": ns, "inserted": inserted if stored else 0,
            "duplicate": not stored, "@success": not errors,
        }  # fmt: skip
        if errors:
            body["@errors"] = errors
        return json_response(body)

    routes: list[tuple[str, Callable[..., Awaitable[Response]]]] = [
        ("/v1/ingest/{stream}", ingest_default),
        ("/v1/ingest/{namespace}/{stream}", ingest),
    ]
    for path, handler in routes:
        api.add_api_route(
            path,
            handler,
            methods=["POST"],
            response_class=Response,
            openapi_extra=ingest_operation(path),
        )
    return api
