"""The OpenAPI description of the event APIs: Kronos (``/1.0/...``), native ingestion
(``/v1/ingest/...``), Initial State (``/api/...``), Samsara (``/v1/events``) and the probes.

Pure data for the routes' ``openapi_extra`` and ``responses=``: what each route reads besides
its body (headers, query parameters), and every answer it gives, in its family's shape.
"""

from __future__ import annotations

from typing import Any

from aion.core.events import MAX_STREAM_NAME_LENGTH
from aion.server.openapi_shapes import (
    BATCH_ID_PARAMETER,
    CONTENT_ENCODING_PARAMETER,
    INITIALSTATE_ERROR,
    KRONOS_ERROR,
    SAMSARA_ERROR,
    STREAM_NAME_PATTERN,
    error_response,
    inline_schema,
    json_body,
    json_content,
    ref,
)

__all__ = [
    "API_STATUS",
    "HEALTHZ",
    "INITIALSTATE_BUCKETS",
    "INITIALSTATE_EVENTS",
    "METRICS",
    "READYZ",
    "SAMSARA_EVENTS",
    "ingest_operation",
    "kronos_operation",
]

_STR = {"type": "string"}
_TOOK = {"type": "string", "description": "milliseconds, as `%fms`"}
_ERRORS = {"type": "array", "items": _STR}

# --- Kronos -----------------------------------------------------------------------------------


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


# --- Native ingestion ------------------------------------------------------------------------

_PATH_NAME = {"type": "string", "maxLength": MAX_STREAM_NAME_LENGTH, "pattern": STREAM_NAME_PATTERN}

_INGEST: dict[str, Any] = {
    "requestBody": json_body(
        {
            "type": "array",
            "items": {"type": "object", "description": "an event; `@time` is optional"},
        }
    ),
    "responses": {
        "200": {
            "description": "Stored (or a duplicate of a stored batch id: `duplicate`).",
            "content": json_content(
                {
                    "type": "object",
                    "properties": {
                        "stream": _STR,
                        "namespace": _STR,
                        "inserted": {"type": "integer"},
                        "duplicate": {"type": "boolean"},
                        "@success": {"const": True},
                    },
                    "required": ["stream", "namespace", "inserted", "duplicate", "@success"],
                }
            ),
        },
        "400": error_response("Bad input; nothing was stored.", KRONOS_ERROR),
        "413": error_response("The (inflated) body is over the limit.", KRONOS_ERROR),
        "503": error_response("A backend is unavailable; nothing was stored.", KRONOS_ERROR),
    },
}


def ingest_operation(path: str) -> dict[str, Any]:
    """``openapi_extra`` of ``/v1/ingest/{stream}`` or ``/v1/ingest/{namespace}/{stream}``."""
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _PATH_NAME} for name in names
    ]
    return {**_INGEST, "parameters": [*parameters, BATCH_ID_PARAMETER, CONTENT_ENCODING_PARAMETER]}


# --- Initial State ---------------------------------------------------------------------------

_IS_HEADERS: list[dict[str, Any]] = [
    {
        "name": "Accept-Version",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "examples": ["~0", "<=0.0.4"]},
        "description": "A version range that must admit the API's 0.0.4 (400 otherwise).",
    },
    CONTENT_ENCODING_PARAMETER,
]
_BUCKET_KEY_HEADER = {
    "name": "X-IS-BucketKey",
    "in": "header",
    "schema": {"type": "string", "maxLength": 250},
    "description": "The bucket key (or the query parameter `bucketKey`): at most 250 "
    "characters, without `:`, `\"` or `'`.",
}
_BUCKET_KEY_QUERY = {
    "name": "bucketKey",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "maxLength": 250},
    "description": "The bucket key, when the header is not sent.",
}


def _is_errors(*extra: tuple[str, str]) -> dict[str, Any]:
    responses = {
        "400": error_response("Bad input: `error.field` names it.", INITIALSTATE_ERROR),
        "401": error_response(
            "No access key (or, once keys exist, an unknown one).", INITIALSTATE_ERROR
        ),
        "413": error_response("The (inflated) body is over 1 MB.", INITIALSTATE_ERROR),
    }
    for status, description in extra:
        responses[status] = error_response(description, INITIALSTATE_ERROR)
    return responses


INITIALSTATE_BUCKETS: dict[str, Any] = {
    "parameters": [*_IS_HEADERS, {**_BUCKET_KEY_HEADER, "required": False}, _BUCKET_KEY_QUERY],
    "requestBody": json_body(
        {
            "type": "object",
            "properties": {
                "bucketKey": {"type": "string", "maxLength": 250},
                "bucketName": {"type": "string", "maxLength": 250},
            },
        },
        "The bucket; its key may come from `X-IS-BucketKey` instead (a new one is made when "
        "neither is given). An empty body is an empty object.",
        required=False,
    ),
    "responses": {
        "201": {
            "description": "Created.",
            "content": json_content(
                {
                    "type": "object",
                    "properties": {"bucketKey": _STR, "bucketName": _STR, "stream": _STR},
                    "required": ["bucketKey", "bucketName", "stream"],
                }
            ),
        },
        "204": {"description": "The bucket exists already."},
        **_is_errors(),
    },
}

_IS_EVENT = {
    "type": "object",
    "properties": {
        "key": {"type": "string", "minLength": 1, "maxLength": 250},
        "value": {
            "anyOf": [{"type": "string", "maxLength": 2000}, {"type": ["number", "boolean"]}]
        },
        "epoch": {
            "anyOf": [{"type": "number"}, _STR],
            "description": "seconds since the epoch (wins over iso8601)",
        },
        "iso8601": _STR,
    },
    "required": ["key", "value"],
}

INITIALSTATE_EVENTS: dict[str, Any] = {
    "parameters": [
        *_IS_HEADERS,
        {**_BUCKET_KEY_HEADER, "required": False},
        _BUCKET_KEY_QUERY,
        BATCH_ID_PARAMETER,
    ],
    "requestBody": json_body(
        {"anyOf": [_IS_EVENT, {"type": "array", "items": _IS_EVENT}]},
        "One event or an array of events.",
    ),
    "responses": {
        "204": {"description": "Stored."},
        **_is_errors(("503", "A backend is unavailable; nothing was stored.")),
    },
}

# --- Samsara ---------------------------------------------------------------------------------

_SAMSARA_EVENT = {
    "type": "object",
    "properties": {
        "timestamp": {"type": "integer", "minimum": 0, "description": "milliseconds"},
        "sourceId": _STR,
        "eventName": _STR,
    },
    "required": ["timestamp", "sourceId", "eventName"],
}

SAMSARA_EVENTS: dict[str, Any] = {
    "parameters": [
        {
            "name": "X-Samsara-publishedTimestamp",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "pattern": r"^-?\d{1,19}$"},
            "description": "When the batch was published (milliseconds); stored as each "
            "event's `publishedAt` unless it has one.",
        },
        BATCH_ID_PARAMETER,
        CONTENT_ENCODING_PARAMETER,
    ],
    "requestBody": {
        "required": True,
        "description": "A JSON array of events (any `application/...json` or `...+json` type).",
        "content": json_content({"type": "array", "items": _SAMSARA_EVENT}),
    },
    "responses": {
        "202": {
            "description": "Stored. Without `X-Samsara-publishedTimestamp` the body is the "
            'JSON `{"status": "OK", "warning": "..."}` asking for it; with it the body is '
            "empty, with no media type (so no schema is given).",
        },
        "400": {
            "description": 'Bad input: an error, or one verdict per event (`"OK"` or what is '
            "wrong with it) when some event is invalid; nothing was stored.",
            "content": json_content(
                {"anyOf": [ref(SAMSARA_ERROR), {"type": "array", "items": _STR}]}
            ),
        },
        "413": error_response("The (inflated) body is over 16 MiB.", SAMSARA_ERROR),
        "503": error_response("A backend is unavailable; nothing was stored.", SAMSARA_ERROR),
    },
}

API_STATUS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Online.",
        "content": json_content({"type": "object", "properties": {"status": {"const": "online"}}}),
    },
    503: {
        "description": "Offline: no event sink.",
        "content": json_content({"type": "object", "properties": {"status": {"const": "offline"}}}),
    },
}

# --- Probes and metrics ----------------------------------------------------------------------

HEALTHZ: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The process answers.",
        "content": json_content(
            {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}
        ),
    }
}

_BACKENDS = {"type": "object", "additionalProperties": {"type": "boolean"}}
READYZ: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Every backend answers.",
        "content": json_content(
            {
                "type": "object",
                "properties": {"status": {"const": "ready"}, "backends": _BACKENDS},
                "required": ["status", "backends"],
            }
        ),
    },
    503: {
        "description": "Some backend does not answer or cannot write; `down` names them and "
        "`reasons` says why (e.g. `writes failing: disk full`).",
        "content": json_content(
            {
                "type": "object",
                "properties": {
                    "status": {"const": "unavailable"},
                    "backends": _BACKENDS,
                    "down": {"type": "array", "items": _STR},
                    "reasons": {"type": "object", "additionalProperties": _STR},
                    "message": _STR,
                },
                "required": ["status", "backends", "down"],
            }
        ),
    },
}

METRICS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus metrics in the text exposition format.",
        "content": {"text/plain": {"schema": _STR}},
    }
}
