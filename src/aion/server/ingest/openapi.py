"""The OpenAPI description of the ingestion APIs: native (``/v1/ingest/...``), Initial State
(``/api/...``) and Samsara (``/v1/events``, ``/v1/api-status``).

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
    json_body,
    json_content,
    ref,
)

__all__ = [
    "API_STATUS",
    "INITIALSTATE_BUCKETS",
    "INITIALSTATE_EVENTS",
    "SAMSARA_EVENTS",
    "ingest_operation",
]

_STR = {"type": "string"}

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
            "description": "Stored (or a duplicate of a stored batch id: `duplicate`). With "
            "`partial=true`, the valid events are stored and `@errors` names the refused ones "
            "(`@success` is then false).",
            "content": json_content(
                {
                    "type": "object",
                    "properties": {
                        "stream": _STR,
                        "namespace": _STR,
                        "inserted": {"type": "integer"},
                        "duplicate": {"type": "boolean"},
                        "@success": {"type": "boolean"},
                        "@errors": {"type": "array", "items": _STR},
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
    return {
        **_INGEST,
        "parameters": [
            *parameters,
            _PARTIAL_PARAMETER,
            BATCH_ID_PARAMETER,
            CONTENT_ENCODING_PARAMETER,
        ],
    }


_PARTIAL_PARAMETER: dict[str, Any] = {
    "name": "partial",
    "in": "query",
    "required": False,
    "schema": {"type": "boolean", "default": False},
    "description": "Kronos's partial success: store the valid events of the batch and name "
    "the refused ones in `@errors` (HTTP 200), instead of refusing the whole batch (400).",
}


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
