"""Building blocks of the OpenAPI document: JSON Schemas of request bodies and the error
shapes of each wire family, as plain dicts.

Pure: the routes put these into ``openapi_extra`` / ``responses=``, and
:mod:`aion.server.openapi` registers the error shapes under ``components.schemas`` (so every
``$ref`` made here resolves once the document is complete).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "AION_ERROR",
    "BATCH_ID_PARAMETER",
    "CONTENT_ENCODING_PARAMETER",
    "ERROR_SCHEMAS",
    "INITIALSTATE_ERROR",
    "JSON",
    "KINESIS_ERROR",
    "KRONOS_ERROR",
    "SAMSARA_ERROR",
    "STREAM_NAME_PATTERN",
    "error_response",
    "inline_schema",
    "json_body",
    "json_content",
    "ref",
]

JSON = "application/json"
_COMPONENTS = "#/components/schemas/"

KRONOS_ERROR = "KronosError"
AION_ERROR = "AionError"
KINESIS_ERROR = "KinesisError"
INITIALSTATE_ERROR = "InitialStateError"
SAMSARA_ERROR = "SamsaraError"

STREAM_NAME_PATTERN = r"^(?:[\w-][\w.-]*|\.[\w-][\w.-]*|\.\.[\w.-]+)$"
"""A stream or namespace name that can stand as a path segment: letters, digits, ``_``, ``-``
and ``.``, but not ``.`` or ``..`` alone (a client would resolve those as dot-segments)."""

_STRINGS = {"type": "array", "items": {"type": "string"}}

ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    KRONOS_ERROR: {
        "type": "object",
        "description": "The Kronos envelope of a refusal (also what the body-size limit answers "
        "on every route).",
        "required": ["@errors", "@success"],
        "properties": {
            "@errors": _STRINGS,
            "@success": {"const": False},
            "@took": {"type": "string", "description": "milliseconds, as `%fms`"},
        },
    },
    AION_ERROR: {
        "type": "object",
        "description": "Aion's own error shape (streams, timeseries, dashboard): `field` names "
        "the input at fault, when there is one.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {
                    "type": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": ["string", "null"]},
                },
            }
        },
    },
    KINESIS_ERROR: {
        "type": "object",
        "description": "A Kinesis error, as botocore parses it into `ClientError`.",
        "required": ["__type", "message"],
        "properties": {
            "__type": {
                "type": "string",
                "examples": ["ResourceNotFoundException", "ValidationException"],
            },
            "message": {"type": "string"},
        },
    },
    INITIALSTATE_ERROR: {
        "type": "object",
        "description": "The Initial State error shape.",
        "required": ["message"],
        "properties": {
            "message": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["type", "message"],
                        "properties": {
                            "type": {"type": "string"},
                            "message": {"type": "string"},
                            "field": {"type": "string"},
                        },
                    }
                },
            }
        },
    },
    SAMSARA_ERROR: {
        "type": "object",
        "description": "The Samsara ingestion-api error shape.",
        "required": ["status", "message"],
        "properties": {"status": {"const": "ERROR"}, "message": {"type": "string"}},
    },
}
"""The error shapes of the wire families, by component name."""

BATCH_ID_PARAMETER: dict[str, Any] = {
    "name": "X-Aion-Batch-Id",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "The client's id for this batch: a retried batch with the same id is stored "
    "once.",
}
CONTENT_ENCODING_PARAMETER: dict[str, Any] = {
    "name": "Content-Encoding",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "enum": ["gzip", "identity"]},
    "description": "`gzip` bodies are inflated (the size limit applies after inflating).",
}


def ref(name: str) -> dict[str, str]:
    """A ``$ref`` to a schema under ``components.schemas``."""
    return {"$ref": _COMPONENTS + name}


def json_content(schema: dict[str, Any], media_type: str = JSON) -> dict[str, Any]:
    """A ``content`` map with one media type."""
    return {media_type: {"schema": schema}}


def error_response(description: str, *shapes: str, media_type: str = JSON) -> dict[str, Any]:
    """A response in one error shape (or any of several) of ``ERROR_SCHEMAS``."""
    schema = ref(shapes[0]) if len(shapes) == 1 else {"anyOf": [ref(s) for s in shapes]}
    return {"description": description, "content": json_content(schema, media_type)}


def inline_schema(body_type: Any) -> dict[str, Any]:
    """The JSON Schema of a msgspec type with every nested definition written in place:
    msgspec's components are not registered in the document, so a ``$ref`` to one would
    dangle. (The body types are not recursive.)"""
    (top,), components = msgspec.json.schema_components([body_type], ref_template="{name}")

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            name = node.get("$ref")
            if isinstance(name, str):
                return inline(components[name])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    schema: dict[str, Any] = inline(top)
    return schema


def json_body(
    schema: dict[str, Any], description: str | None = None, required: bool = True
) -> dict[str, Any]:
    """A JSON ``requestBody``."""
    body: dict[str, Any] = {"required": required, "content": json_content(schema)}
    if description is not None:
        body["description"] = description
    return body
