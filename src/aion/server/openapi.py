"""The complete OpenAPI document of the server (``GET /openapi.json``).

FastAPI writes each route's operation from the route's own ``openapi_extra`` and
``responses``; this module adds what no single route knows:

- ``components.securitySchemes`` (bearer keys, HTTP Basic for browsers, Initial State's
  ``X-IS-AccessKey``, SigV4 for boto3) and, on every operation, the schemes and the scope its
  family takes (``security: []`` on the public probes);
- the answers of the layers in front of the routes: 401 and 403 from the key check, in the
  family's error shape (decided by the same rules the check uses,
  :func:`aion.server.ops.auth_rules.requirement_of`), 413 from the body-size limit, 431 from the
  HTTP layer;
- the error shapes of each wire family under ``components.schemas``;
- one operation per Kinesis target (see :mod:`aion.server.streams.kinesis_openapi`);
- the route of this document itself.

``install_openapi(app)`` makes ``app.openapi()`` (and so ``/openapi.json``) return it.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI

from aion.server.families import Family
from aion.server.openapi_shapes import (
    AION_ERROR,
    ERROR_SCHEMAS,
    INITIALSTATE_ERROR,
    KINESIS_ERROR,
    KRONOS_ERROR,
    SAMSARA_ERROR,
    error_response,
)
from aion.server.ops.auth_rules import requirement_of
from aion.server.streams.kinesis_api import OPERATIONS
from aion.server.streams.kinesis_openapi import KINESIS_PATH_PREFIX, KINESIS_TAG, kinesis_paths
from aion.server.streams.kinesis_shapes import CONTENT_TYPE as KINESIS_CONTENT_TYPE
from aion.server.streams.kinesis_shapes import TARGET_PREFIX

__all__ = ["SECURITY_SCHEMES", "complete_document", "install_openapi"]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`aion keys create`) as `Authorization: Bearer <key>`. The "
        "roles listed on an operation are the key scope it needs: `read`, `write` or `admin` "
        "(admin implies the others).",
    },
    "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "HTTP Basic with the API key as the password (any user name), for "
        "browsers; a 401 on the dashboard asks for it.",
    },
    "initialStateAccessKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-IS-AccessKey",
        "description": "The Initial State access key. The Initial State API always needs one; "
        "once API keys exist it must be one of them.",
    },
    "initialStateAccessKeyQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "accessKey",
        "description": "The Initial State access key as a query parameter.",
    },
    "sigv4": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "AWS Signature Version 4 as boto3 signs it: the API key is the access key "
        "id (`aws_access_key_id`); the region of the credential scope names the region in "
        "ARNs.",
    },
}

_SCHEMES: dict[Family, tuple[str, ...]] = {
    Family.INITIALSTATE: ("initialStateAccessKey", "initialStateAccessKeyQuery"),
    Family.KINESIS: ("sigv4", "bearer"),
    Family.DASHBOARD: ("basic", "bearer"),
}
_DEFAULT_SCHEMES = ("bearer", "basic")

_REFUSAL_SHAPES: dict[Family, tuple[str, str]] = {
    Family.KRONOS: (KRONOS_ERROR, "application/json"),
    Family.INGEST: (KRONOS_ERROR, "application/json"),
    Family.INITIALSTATE: (INITIALSTATE_ERROR, "application/json"),
    Family.SAMSARA: (SAMSARA_ERROR, "application/json"),
    Family.KINESIS: (KINESIS_ERROR, KINESIS_CONTENT_TYPE),
}
_DEFAULT_REFUSAL = (AION_ERROR, "application/json")

_HTTP_LAYER = [
    ("408", "The request was not received in time (answered by the HTTP layer)."),
    ("414", "The request target is over the head-size limit (answered by the HTTP layer)."),
    ("431", "The request headers are over the head-size limit (answered by the HTTP layer)."),
]

_TAGS = [
    ("kronos", "The Kronos event store API (`/1.0/...`), with Kronos's envelopes."),
    ("ingest", "Native batch ingestion: a JSON array of events, stored all or nothing."),
    ("initialstate", "The Initial State events API, for the ISStreamer clients."),
    ("samsara", "The Samsara ingestion API."),
    ("streams", "Native sharded streams: records, iterators and consumer groups."),
    (
        KINESIS_TAG,
        "The Kinesis-compatible API (JSON 1.1). Every call is `POST /` with the operation in "
        "`X-Amz-Target`; each operation is documented under the pseudo-path "
        f"`{KINESIS_PATH_PREFIX}{TARGET_PREFIX}<Operation>` (a URL fragment, never sent).",
    ),
    ("timeseries", "Reads of the timeseries rollups."),
    ("dashboard", "The dashboard page and its JSON and server-sent-event endpoints."),
    ("operations", "Probes, metrics and this document."),
]

_DESCRIPTION = """

**Authentication.** While no API key exists every request is served. Once one exists, every
operation but `/healthz` and `/readyz` needs a key with the scope listed as the role of its
security requirement (`read`, `write` or `admin`; admin implies the others) and, where the
operation touches a namespace, a key for that namespace (or for every namespace, `*`). A
missing or unknown key is answered with 401, a key without the scope or namespace with 403,
each in the error shape of the API family.

**Limits.** A request body over the server's limit is answered with 413 on every route; a
request head over the HTTP layer's limits with 431 (414 when the target alone is too long),
and a request that stalls with 408, all in the Kronos envelope.

**Kinesis.** The Kinesis-compatible API is one HTTP endpoint, `POST /`, that dispatches on
`X-Amz-Target`. Each target is documented as its own operation under the pseudo-path
`/#X-Amz-Target=Kinesis_20131202.<Operation>`: everything after `#` is a URL fragment, which
clients never send, so each of these operations is a `POST /` with that header.
"""


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in doc.get("paths", {}).items()
        for method, operation in item.items()
        if method in _METHODS
    ]


def _request_of(path: str, method: str) -> tuple[str, str, dict[str, str]]:
    """The real method, path and headers of a documented operation (Kinesis pseudo-paths are
    ``POST /`` with their target)."""
    if path.startswith(KINESIS_PATH_PREFIX):
        return method, "/", {"x-amz-target": path.removeprefix(KINESIS_PATH_PREFIX)}
    return method, path, {}


def _add_response(operation: dict[str, Any], status: str, response: dict[str, Any]) -> None:
    """Add ``response`` for ``status``; when the route documents that status already, its
    content may be either shape."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    existing = responses.get(status)
    if existing is None:
        responses[status] = response
        return
    for media_type, added in response.get("content", {}).items():
        content = existing.setdefault("content", {})
        current = content.get(media_type)
        if current is None:
            content[media_type] = added
        elif "schema" in current and current["schema"] != added["schema"]:
            alternatives = current["schema"].get("anyOf", [current["schema"]])
            if added["schema"] not in alternatives:
                current["schema"] = {"anyOf": [*alternatives, added["schema"]]}


def _portable_tuples(node: Any) -> Any:
    """Write each ``prefixItems`` tuple (msgspec's form for ``tuple[int, float]``) as an array
    of its length whose items are any of the member schemas. Both are valid JSON Schema 2020-12;
    this one also reads right in tools that still speak draft 4 to 7 (schemathesis 4 turns a
    response's ``prefixItems`` into a draft-4 ``items`` list, which it then rejects)."""
    if isinstance(node, list):
        return [_portable_tuples(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _portable_tuples(value) for key, value in node.items()}
    members = out.pop("prefixItems", None)
    if isinstance(members, list):
        rest = out.pop("items", False)  # the schema of items past the tuple, if any
        members = members if rest is False else [*members, rest]
        distinct = [m for i, m in enumerate(members) if m not in members[:i]]
        out["items"] = distinct[0] if len(distinct) == 1 else {"anyOf": distinct}
        out.setdefault("minItems", len(members) - (rest is not False))
    return out


def _merge_parameters(operation: dict[str, Any]) -> None:
    """One entry per parameter: FastAPI appends a route's ``openapi_extra`` parameters after
    the ones it finds in the handler's signature, and the route's own description wins."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for parameter in operation.get("parameters", []):
        name: str = parameter["name"]
        key = (parameter["in"], name.lower() if parameter["in"] == "header" else name)
        merged[key] = {**merged.get(key, {}), **parameter}
    if merged:
        operation["parameters"] = list(merged.values())


def _secure(path: str, method: str, operation: dict[str, Any]) -> None:
    """The schemes and key scope an operation needs, and the key check's 401 and 403 in its
    family's shape, decided by the rules the key check itself follows."""
    real_method, real_path, headers = _request_of(path, method)
    need = requirement_of(real_method, real_path, {}, headers, "default")
    if need.scope is None:
        operation["security"] = []
        return
    schemes = _SCHEMES.get(need.family, _DEFAULT_SCHEMES)
    # The dispatcher's scope depends on the target: each target's operation names its own.
    dispatcher = need.family is Family.KINESIS and not headers
    role = [] if dispatcher else [need.scope.value]
    operation["security"] = [{scheme: role} for scheme in schemes]
    shape, media_type = _REFUSAL_SHAPES.get(need.family, _DEFAULT_REFUSAL)
    unauthorized = error_response(
        "No API key, or an unknown or revoked one (only once API keys exist).",
        shape,
        media_type=media_type,
    )
    unauthorized["headers"] = {
        "WWW-Authenticate": {
            "description": '`Bearer realm="aion"` (`Basic ...` on the dashboard and the API '
            "docs, so a browser asks for the key).",
            "schema": {"type": "string"},
        }
    }
    _add_response(operation, "401", unauthorized)
    _add_response(
        operation,
        "403",
        error_response(
            "The API key lacks the scope or the namespace this needs.",
            shape,
            media_type=media_type,
        ),
    )


def _limits(operation: dict[str, Any]) -> None:
    if "requestBody" in operation:
        _add_response(
            operation,
            "413",
            error_response("The request body is over the server's limit.", KRONOS_ERROR),
        )
    for status, description in _HTTP_LAYER:
        _add_response(operation, status, error_response(description, KRONOS_ERROR))


def _documentation_paths(app: FastAPI) -> dict[str, dict[str, Any]]:
    """FastAPI's own route: this document. (The pages that render it are routes of
    :mod:`aion.server.ops.docs`, documented like any other.)"""
    if not app.openapi_url:
        return {}
    return {
        app.openapi_url: {
            "get": {
                "tags": ["operations"],
                "summary": "This OpenAPI document",
                "operationId": "openapi_document",
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3.1 document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        }
    }


def complete_document(app: FastAPI, generated: dict[str, Any]) -> dict[str, Any]:
    """The document FastAPI ``generated`` for ``app``, completed (a new dict)."""
    doc = copy.deepcopy(generated)
    doc["info"]["description"] = doc["info"].get("description", "") + _DESCRIPTION
    paths: dict[str, Any] = doc.setdefault("paths", {})
    paths.update(_documentation_paths(app))
    paths.update(kinesis_paths(list(OPERATIONS)))
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, schema in ERROR_SCHEMAS.items():
        schemas.setdefault(name, copy.deepcopy(schema))
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    doc["security"] = [{scheme: []} for scheme in _DEFAULT_SCHEMES]
    doc["tags"] = [{"name": name, "description": text} for name, text in _TAGS]
    for path, method, operation in _operations(doc):
        _merge_parameters(operation)
        _secure(path, method, operation)
        _limits(operation)
    doc["paths"] = _portable_tuples(paths)
    return doc


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document as ``app.openapi()`` and ``/openapi.json``."""
    generate = app.openapi  # FastAPI's generator, which caches its result on the app
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        generated = generate()
        if cache.get("from") is not generated:
            cache["doc"] = complete_document(app, generated)
            cache["from"] = generated
        document: dict[str, Any] = cache["doc"]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
