"""The OpenAPI description of the timeseries API (``/v1/timeseries``): the ``namespace``
parameter every route reads, the timeseries name, the answers and the errors. Pure data for
the routes' ``openapi_extra``."""

from __future__ import annotations

from typing import Any

from aion.server.openapi_shapes import (
    AION_ERROR,
    STREAM_NAME_PATTERN,
    error_response,
    json_content,
)

__all__ = ["TIMESERIES_LIST", "TIMESERIES_READ"]

_SEGMENT = r"(?:[^/.][^/]*|\.[^/.][^/]*|\.\.[^/]+)"
_STR = {"type": "string"}

_NAMESPACE = {
    "name": "namespace",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "pattern": STREAM_NAME_PATTERN},
    "description": "The namespace whose rules to read (default: the server's default).",
}
_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": f"^{_SEGMENT}(?:/{_SEGMENT})*$"},
    "description": "A timeseries name (it may hold `/`).",
}
_ERRORS: dict[str, Any] = {
    "400": error_response("A bad parameter; `error.field` names it.", AION_ERROR),
    "404": error_response("No rule makes that timeseries (or no such rule).", AION_ERROR),
    "503": error_response("The rule's backend is unavailable.", AION_ERROR),
}

TIMESERIES_LIST: dict[str, Any] = {
    "parameters": [_NAMESPACE],
    "responses": {
        "200": {
            "description": "The namespace's rules.",
            "content": json_content(
                {
                    "type": "object",
                    "properties": {"rollups": {"type": "array", "items": {"type": "object"}}},
                    "required": ["rollups"],
                }
            ),
        },
        **_ERRORS,
    },
}
"""``openapi_extra`` of ``GET /v1/timeseries``."""

TIMESERIES_READ: dict[str, Any] = {
    "parameters": [_NAME, _NAMESPACE],
    "responses": {
        "200": {
            "description": "Points `[value, epoch milliseconds]`, oldest first (the shape of "
            "Grafana's JSON data sources); a value is a number, an object (histogram), a list "
            "or null.",
            "content": json_content(
                {
                    "type": "object",
                    "properties": {
                        "target": _STR,
                        "rule": _STR,
                        "type": _STR,
                        "interval": _STR,
                        "datapoints": {
                            "type": "array",
                            "items": {"type": "array", "minItems": 2, "maxItems": 2},
                        },
                    },
                    "required": ["target", "rule", "type", "interval", "datapoints"],
                }
            ),
        },
        **_ERRORS,
    },
}
"""``openapi_extra`` of the two reads, ``/v1/timeseries/{name}`` and ``.../series``."""
