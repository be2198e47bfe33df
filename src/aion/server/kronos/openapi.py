"""The OpenAPI description of the Kronos API (``/1.0/...``).

Pure data for the routes' ``openapi_extra``: each route's body, its answer and its errors, in
the Kronos envelope.
"""

from __future__ import annotations

from typing import Any

from aion.server.openapi_shapes import (
    KRONOS_ERROR,
    error_response,
    inline_schema,
    json_body,
    json_content,
    ref,
)

__all__ = ["kronos_operation"]

_STR = {"type": "string"}
_TOOK = {"type": "string", "description": "milliseconds, as `%fms`"}
_ERRORS = {"type": "array", "items": _STR}


def _outcomes(count: str) -> dict[str, Any]:
    """Per stream, per backend: a count and the backend's errors."""
    per_backend = {
        "type": "object",
        "properties": {count: {"type": "integer"}, "@errors": _ERRORS},
        "required": [count],
    }
    return {
        "type": "object",
        "description": f"Per stream: per backend, `{count}` and its `@errors`; `@success` is "
        "false when anything was refused, with the reasons in `@errors`.",
        "properties": {"@success": {"type": "boolean"}, "@errors": _ERRORS, "@took": _TOOK},
        "required": ["@success"],
        "additionalProperties": {"type": "object", "additionalProperties": per_backend},
    }


_LINES = (
    "`\\r\\n`-separated JSON lines in chunks (the Kronos wire format: the body as a whole is "
    "not one JSON document, so no schema is given)."
)
_KRONOS_ANSWERS: dict[str, dict[str, Any]] = {
    "/1.0/index": {
        "description": "The node and the liveness of each backend.",
        "content": json_content(
            {
                "type": "object",
                "properties": {
                    "service": _STR,
                    "version": _STR,
                    "id": _STR,
                    "storage": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "properties": {"alive": {"type": "boolean"}, "backend": _STR},
                        },
                    },
                    "@success": {"type": "boolean"},
                    "@took": _TOOK,
                },
                "required": ["service", "version", "id", "storage", "@success"],
            }
        ),
    },
    "/1.0/events/put": {
        "description": "What each backend stored (also when some events were refused).",
        "content": json_content(_outcomes("num_inserted")),
    },
    "/1.0/events/get": {"description": "The events, one per line. " + _LINES},
    "/1.0/events/delete": {
        "description": "What each backend deleted.",
        "content": json_content(_outcomes("num_deleted")),
    },
    "/1.0/streams": {"description": "The stream names, one per line. " + _LINES},
    "/1.0/streams/infer_schema": {
        "description": "A JSON Schema (draft-04) inferred from the stream's latest events.",
        "content": json_content(
            {
                "type": "object",
                "properties": {
                    "stream": _STR,
                    "namespace": _STR,
                    "schema": {"type": "object"},
                    "@success": {"type": "boolean"},
                    "@took": _TOOK,
                },
                "required": ["stream", "namespace", "schema", "@success"],
            }
        ),
    },
}
_KRONOS_UNAVAILABLE: dict[str, dict[str, Any]] = {
    "/1.0/events/put": _outcomes("num_inserted"),
    "/1.0/events/delete": _outcomes("num_deleted"),
}


def kronos_operation(path: str, body_type: type[Any] | None = None) -> dict[str, Any]:
    """``openapi_extra`` for a Kronos route: its body, its answer and its errors."""
    unavailable = _KRONOS_UNAVAILABLE.get(path, ref(KRONOS_ERROR))
    extra: dict[str, Any] = {
        "responses": {
            "200": _KRONOS_ANSWERS[path],
            "400": error_response("Bad input (the message names the field).", KRONOS_ERROR),
            "403": error_response("This server's serving mode blocks the endpoint.", KRONOS_ERROR),
            "503": {
                "description": "A backend is unavailable.",
                "content": json_content(unavailable),
            },
        }
    }
    if body_type is not None:
        extra["requestBody"] = json_body(inline_schema(body_type))
    return extra
