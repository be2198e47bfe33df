"""The Kronos response envelope (``@success``, ``@errors``, ``@took``) and JSON responses."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from starlette.responses import Response

from aion.errors import AionError, BackendUnavailable, Forbidden, Unauthorized

__all__ = ["JSON", "error_response", "json_response", "status_for", "took"]

JSON = "application/json"
_encode = msgspec.json.Encoder().encode


def took(started: float) -> str:
    """Kronos's ``@took``: milliseconds as ``"%fms"``."""
    return f"{(time.perf_counter() - started) * 1000:f}ms"


def json_response(
    body: dict[str, Any], status: int = 200, started: float | None = None
) -> Response:
    """A JSON response, with ``@took`` when ``started`` is given."""
    if started is not None:
        body["@took"] = took(started)
    return Response(_encode(body), status_code=status, media_type=JSON)


def error_response(
    errors: list[str], status: int = 400, started: float | None = None, **extra: Any
) -> Response:
    """``{"@errors": [...], "@success": false}`` with ``status``."""
    return json_response({**extra, "@errors": errors, "@success": False}, status, started)


def status_for(exc: AionError) -> int:
    """The HTTP status of an Aion error: 503 when a backend is down, 401 and 403 for a
    refused key, else 400 (bad input)."""
    if isinstance(exc, BackendUnavailable):
        return 503
    if isinstance(exc, Unauthorized):
        return 401
    if isinstance(exc, Forbidden):
        return 403
    return 400
