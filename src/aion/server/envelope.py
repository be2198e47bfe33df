"""The Kronos response envelope (``@success``, ``@took``) for JSON answers, shared by the
Kronos API and native ingestion; its error side is :func:`aion.server.errors.kronos_error`."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from starlette.responses import Response

__all__ = ["JSON", "json_response", "took"]

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
