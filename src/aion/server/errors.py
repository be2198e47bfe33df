"""The error edge of every wire API: one table from exception to HTTP status, and one renderer
per wire family's error shape.

The same error gets the same status on every family (:data:`STATUSES`, first match wins):

=========================================  ======
``TooLarge`` (a body or record over a cap)  413
``ValidationError`` (bad input)             400
``NotFound`` (stream, shard, timeseries)    404
``Conflict`` (a compare-and-set lost)       409
``Unauthorized`` (no key, an unknown key)   401
``Forbidden`` (scope, namespace, mode)      403
``BackendUnavailable``, ``StoreError``      503
any other ``AionError``                     400
=========================================  ======

Each family answers in its own shape, built here and nowhere else:

- Kronos and native ingestion: the Kronos envelope ``{"@errors": [message], "@success":
  false}``, with ``@took`` when the request was timed;
- streams, timeseries, dashboard and operations: Aion's ``{"error": {"type", "message",
  "field"}}``, ``type`` being the exception's class name;
- Kinesis: ``{"__type": code, "message"}`` as ``application/x-amz-json-1.1``;
- Initial State: ``{"message": {"error": {"type", "message", "field"?}}}``;
- Samsara: ``{"status": "ERROR", "message"}``.

:func:`error_response` picks the shape by :class:`~aion.server.families.Family`; the routes
call the renderer of their own family, the key check and the app's exception handler call
:func:`error_response` with the request's family. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, Response
from starlette.types import Scope

from aion.errors import (
    AionError,
    BackendUnavailable,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationError,
)
from aion.server.envelope import JSON, took
from aion.server.families import Family
from aion.timeseries import StoreError

__all__ = [
    "KINESIS_CONTENT_TYPE",
    "NOT_FOUND_TEXT",
    "OTHER_STATUS",
    "STATUSES",
    "Conflict",
    "TooLarge",
    "error_response",
    "field_of",
    "initialstate_error",
    "install_error_handlers",
    "kinesis_code",
    "kinesis_error",
    "kronos_envelope",
    "kronos_error",
    "native_error",
    "samsara_error",
    "status_of",
]

KINESIS_CONTENT_TYPE = "application/x-amz-json-1.1"
NOT_FOUND_TEXT = "Four, oh, four :'("
"""What an unknown path answers (plain text, as Kronos did)."""
_encode = msgspec.json.Encoder().encode


class TooLarge(ValidationError):
    """Input over a size limit: a request body (after inflating) or a record."""


class Conflict(AionError):
    """A compare-and-set lost: what it expected changed since it was read; ``field`` names the
    expectation."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


STATUSES: tuple[tuple[type[Exception], int], ...] = (
    (TooLarge, 413),
    (ValidationError, 400),
    (NotFound, 404),
    (Conflict, 409),
    (Unauthorized, 401),
    (Forbidden, 403),
    (BackendUnavailable, 503),
    (StoreError, 503),
)
"""Exception class → HTTP status, for every family; the first class that matches decides."""

OTHER_STATUS = 400
"""The status of any other ``AionError``: bad input, as Kronos answered an error it did not
expect."""


def status_of(exc: BaseException) -> int:
    """The HTTP status of ``exc`` on every wire API."""
    for kind, status in STATUSES:
        if isinstance(exc, kind):
            return status
    return OTHER_STATUS


def field_of(exc: BaseException) -> str | None:
    """The field ``exc`` names (bad input, a lost compare-and-set), or None."""
    field = getattr(exc, "field", None)
    return field if isinstance(field, str) else None


def _json(body: dict[str, Any], status: int, headers: Mapping[str, str] | None) -> Response:
    return Response(_encode(body), status_code=status, media_type=JSON, headers=headers)


# --- Kronos envelope (Kronos, native ingestion) ----------------------------------------------


def kronos_envelope(messages: list[str], status: int, started: float | None = None) -> Response:
    """``{"@errors": messages, "@success": false}`` (and ``@took`` when ``started`` is given)."""
    body: dict[str, Any] = {"@errors": messages, "@success": False}
    if started is not None:
        body["@took"] = took(started)
    return _json(body, status, None)


def kronos_error(exc: AionError, started: float | None = None) -> Response:
    """``exc`` in the Kronos envelope."""
    return kronos_envelope([str(exc)], status_of(exc), started)


# --- Aion's native shape (streams, timeseries, dashboard, operations) ------------------------


def native_error(exc: AionError, headers: Mapping[str, str] | None = None) -> Response:
    """``{"error": {"type": <class name>, "message", "field"}}``."""
    error = {"type": type(exc).__name__, "message": str(exc), "field": field_of(exc)}
    return _json({"error": error}, status_of(exc), headers)


# --- Kinesis ---------------------------------------------------------------------------------

_KINESIS_CODES: tuple[tuple[type[Exception], str], ...] = (
    (NotFound, "ResourceNotFoundException"),
    (Unauthorized, "UnrecognizedClientException"),
    (Forbidden, "AccessDeniedException"),
    (ValidationError, "InvalidArgumentException"),
)


def kinesis_code(exc: AionError) -> str:
    """The Kinesis ``__type`` of an Aion error (the routes name finer codes themselves)."""
    for kind, code in _KINESIS_CODES:
        if isinstance(exc, kind):
            return code
    return "InternalFailureException" if status_of(exc) >= 500 else "InvalidArgumentException"


def kinesis_error(
    code: str, message: str, status: int, headers: Mapping[str, str] | None = None
) -> Response:
    """``{"__type": code, "message": message}``, the body botocore parses into
    ``ClientError``."""
    body = _encode({"__type": code, "message": message})
    return Response(body, status_code=status, media_type=KINESIS_CONTENT_TYPE, headers=headers)


# --- Initial State ---------------------------------------------------------------------------

_INITIALSTATE_TYPES: tuple[tuple[type[Exception], str], ...] = (
    (TooLarge, "TOO_LARGE"),
    (ValidationError, "VALIDATION"),
    (NotFound, "NOT_FOUND"),
    (Conflict, "CONFLICT"),
    (Unauthorized, "UNAUTHORIZED"),
    (Forbidden, "FORBIDDEN"),
    (BackendUnavailable, "UNAVAILABLE"),
    (StoreError, "UNAVAILABLE"),
)


def initialstate_error(exc: AionError, kind: str | None = None) -> Response:
    """``{"message": {"error": {"type", "message", "field"?}}}``; ``kind`` overrides the type
    the exception's class gives (``VERSION`` for a refused ``Accept-Version``)."""
    if kind is None:
        kind = next((k for cls, k in _INITIALSTATE_TYPES if isinstance(exc, cls)), "ERROR")
    error: dict[str, Any] = {"type": kind, "message": str(exc)}
    field = field_of(exc)
    if field is not None:
        error["field"] = field
    return _json({"message": {"error": error}}, status_of(exc), None)


# --- Samsara ---------------------------------------------------------------------------------


def samsara_error(exc: AionError, message: str | None = None) -> Response:
    """``{"status": "ERROR", "message": ...}``, the message being ``exc``'s unless given."""
    return _json({"status": "ERROR", "message": message or str(exc)}, status_of(exc), None)


# --- By family -------------------------------------------------------------------------------


def error_response(family: Family, exc: AionError, started: float | None = None) -> Response:
    """``exc`` in ``family``'s shape, with its status from :data:`STATUSES`."""
    if family in (Family.KRONOS, Family.INGEST):
        return kronos_error(exc, started)
    if family is Family.INITIALSTATE:
        return initialstate_error(exc)
    if family is Family.SAMSARA:
        return samsara_error(exc)
    if family is Family.KINESIS:
        return kinesis_error(kinesis_code(exc), str(exc), status_of(exc))
    return native_error(exc)


def install_error_handlers(app: FastAPI, family_of: Callable[[Scope], Family]) -> None:
    """Answer what escapes the routes: an unknown path with Kronos's plain-text 404, another
    HTTP error (405, ...) in the Kronos envelope, and an ``AionError`` in the shape of the
    request's family (``family_of`` tells it from the ASGI scope)."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return PlainTextResponse(NOT_FOUND_TEXT, status_code=404)
        response = kronos_envelope([str(exc.detail)], exc.status_code)
        response.headers.update(dict(exc.headers or {}))
        return response

    @app.exception_handler(AionError)
    async def aion_error(request: Request, exc: AionError) -> Response:
        return error_response(family_of(request.scope), exc)
