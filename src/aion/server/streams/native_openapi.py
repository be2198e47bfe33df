"""The OpenAPI description of the native streams API (``/v1/streams``): per route, its path
and query parameters, its body, its answer and its errors. Pure data for the routes'
``openapi_extra``."""

from __future__ import annotations

from typing import Any

import msgspec

from aion.core.events import MAX_STREAM_NAME_LENGTH
from aion.server.openapi_shapes import (
    AION_ERROR,
    STREAM_NAME_PATTERN,
    error_response,
    inline_schema,
    json_body,
    json_content,
)

__all__ = ["SEGMENT_PATTERN", "streams_operation", "success_status"]

SEGMENT_PATTERN = r"^(?:[^/.][^/]*|\.[^/.][^/]*|\.\.[^/]+)$"
"""Any text that stands as one path segment: no ``/``, and not ``.`` or ``..`` alone."""

_STR = {"type": "string"}
_INT = {"type": "integer"}
_DECIMAL = {"type": "string", "pattern": r"^\d+$", "description": "a decimal integer"}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties)}


_SHARD = _object(
    {
        "shard": _INT,
        "shard_id": _STR,
        "starting_hash_key": _DECIMAL,
        "ending_hash_key": _DECIMAL,
        "starting_sequence": _DECIMAL,
        "ending_sequence": _DECIMAL,
        "trimmed_through": _DECIMAL,
    }
)
_DESCRIPTION = _object(
    {
        "namespace": _STR,
        "name": _STR,
        "status": _STR,
        "retention_seconds": {"type": ["integer", "null"]},
        "shards": {"type": "array", "items": _SHARD},
    }
)
_PLACED = _object({"shard": _INT, "shard_id": _STR, "sequence": _DECIMAL})
_LEASE = _object(
    {
        "shard": _INT,
        "shard_id": _STR,
        "owner": {"type": ["string", "null"]},
        "expires_at": {"type": "integer", "description": "kronos time, on the store's clock"},
        "version": _INT,
        "claimant": {
            "type": ["string", "null"],
            "description": "a worker waiting for the shard; the owner hands it over",
        },
    }
)
_RECORD = {
    "type": "object",
    "description": "`data` when the stored bytes are JSON (and the encoding is auto), else "
    "`data_base64`.",
    "required": ["sequence", "partition_key", "arrival_time"],
    "properties": {
        "sequence": _DECIMAL,
        "partition_key": _STR,
        "arrival_time": {"type": "integer", "description": "kronos time"},
        "data": {},
        "data_base64": _STR,
    },
}
_MEMBERSHIP = _object(
    {
        "worker": _STR,
        "shards": {"type": "array", "items": _INT},
        "leases": {"type": "array", "items": _LEASE},
        "lease_seconds": {"type": "number"},
        "heartbeat_seconds": {"type": "number"},
        "server_time": {"type": "integer", "description": "kronos time"},
    }
)

_ANSWERS: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {
    ("POST", ""): (201, _DESCRIPTION),
    ("GET", ""): (200, _object({"namespace": _STR, "streams": {"type": "array", "items": _STR}})),
    ("GET", "/{stream}"): (200, _DESCRIPTION),
    ("DELETE", "/{stream}"): (200, _object({"deleted": _STR})),
    ("POST", "/{stream}/trim"): (200, _object({"trimmed": _INT})),
    ("POST", "/{stream}/record"): (200, _PLACED),
    ("POST", "/{stream}/records"): (200, _object({"records": {"type": "array", "items": _PLACED}})),
    ("POST", "/{stream}/shards/{shard}/iterator"): (
        200,
        _object({"iterator": _STR, "shard": _INT, "shard_id": _STR}),
    ),
    ("POST", "/{stream}/read"): (
        200,
        _object(
            {
                "shard": _INT,
                "records": {"type": "array", "items": _RECORD},
                "next_iterator": _STR,
                "millis_behind_latest": _INT,
            }
        ),
    ),
    ("GET", "/{stream}/groups/{group}/checkpoints"): (
        200,
        _object({"checkpoints": {"type": "object", "additionalProperties": _DECIMAL}}),
    ),
    ("PUT", "/{stream}/groups/{group}/checkpoints/{shard}"): (
        200,
        _object({"shard": _INT, "sequence": _DECIMAL}),
    ),
    ("GET", "/{stream}/groups/{group}/leases"): (
        200,
        _object({"leases": {"type": "array", "items": _LEASE}, "server_time": _INT}),
    ),
    ("PUT", "/{stream}/groups/{group}/leases/{shard}"): (200, _LEASE),
    ("POST", "/{stream}/groups/{group}/members/{worker}/join"): (200, _MEMBERSHIP),
    ("POST", "/{stream}/groups/{group}/members/{worker}/heartbeat"): (200, _MEMBERSHIP),
    ("POST", "/{stream}/groups/{group}/members/{worker}/leave"): (
        200,
        _object({"worker": _STR, "released": {"type": "array", "items": _INT}}),
    ),
}

_PARAMETERS: dict[str, dict[str, Any]] = {
    "stream": {
        "type": "string",
        "maxLength": MAX_STREAM_NAME_LENGTH,
        "pattern": STREAM_NAME_PATTERN,
    },
    "shard": {
        "type": "string",
        "pattern": r"^(?:shardId-)?\d{1,12}$",
        "description": "a shard number (`3`) or shard id (`shardId-000000000003`)",
    },
    "group": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": SEGMENT_PATTERN},
    "worker": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": SEGMENT_PATTERN},
}


_SEQUENCE = {"type": "string", "pattern": r"^[0-9]{1,19}$", "description": "a sequence number"}
_BASE64 = {"type": "string", "contentEncoding": "base64"}
_REFINED: dict[str, dict[str, Any]] = {
    # What the server accepts of these strings, which the body types hold as plain ``str``.
    "sequence": _SEQUENCE,
    "expected": _SEQUENCE,
    "explicit_hash_key": {"type": "string", "pattern": r"^[0-9]{1,39}$"},
    "data_base64": _BASE64,
}


def _refined(schema: Any) -> Any:
    """``schema`` with the string members of ``_REFINED`` narrowed to what is accepted."""
    if isinstance(schema, list):
        return [_refined(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _refined(value) for key, value in schema.items()}
    for name, member in out.get("properties", {}).items():
        if name in _REFINED:
            nullable = member.get("anyOf") == [{"type": "string"}, {"type": "null"}]
            refined = _REFINED[name]
            out["properties"][name] = (
                {"anyOf": [refined, {"type": "null"}]} if nullable else refined
            )
    return out


def success_status(method: str, path: str) -> int:
    """The status of a route's answer (``path`` below ``/v1/streams``)."""
    return _ANSWERS[(method, path)][0]


def streams_operation(method: str, path: str, body_type: type[Any] | None) -> dict[str, Any]:
    """``openapi_extra`` for the route ``method path`` (``path`` below ``/v1/streams``)."""
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": _PARAMETERS[name]}
        for name in names
    ]
    parameters.append(
        {
            "name": "namespace",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "pattern": STREAM_NAME_PATTERN},
            "description": "The namespace (default: the server's default namespace).",
        }
    )
    status, answer = _ANSWERS[(method, path)]
    responses: dict[str, Any] = {
        str(status): {"description": "Done.", "content": json_content(answer)},
        "400": error_response("Bad input; `error.field` names it.", AION_ERROR),
        "404": error_response("Unknown stream or shard.", AION_ERROR),
        "503": error_response("A backend is unavailable.", AION_ERROR),
    }
    if path.endswith(("/checkpoints/{shard}", "/leases/{shard}")):
        responses["409"] = error_response(
            "Another worker changed the checkpoint or lease first.", AION_ERROR
        )
    if path.endswith(("/record", "/records")):
        responses["413"] = error_response(
            "A record is over 1 MiB with its partition key.", AION_ERROR
        )
    extra: dict[str, Any] = {"parameters": parameters, "responses": responses}
    if body_type is not None:
        # A body whose every member has a default may be left out (the route reads none
        # as ``{}``).
        optional = all(not f.required for f in msgspec.structs.fields(body_type))
        schema = _refined(inline_schema(body_type))
        extra["requestBody"] = json_body(schema, required=not optional)
    return extra
