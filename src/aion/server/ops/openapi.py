"""The OpenAPI description of the operations routes: the probes (``/healthz``, ``/readyz``)
and ``/metrics``. Pure data for their ``responses=``."""

from __future__ import annotations

from typing import Any

from aion.server.openapi_shapes import json_content

__all__ = ["HEALTHZ", "METRICS", "READYZ"]

_STR = {"type": "string"}

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
