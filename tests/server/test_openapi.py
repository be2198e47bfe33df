"""The OpenAPI document itself: valid OpenAPI 3.1, no dangling ``$ref``, every route of the app
in it, one operation per Kinesis target, and the security and error shapes of each family.

The server's answers are checked against it by ``test_openapi_fuzz.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

from aion.server.app import create_app
from aion.server.config import AionConfig
from aion.server.streams.kinesis_api import OPERATIONS
from aion.server.streams.kinesis_openapi import pseudo_path
from aion.server.streams.kinesis_shapes import TARGET_PREFIX

_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(AionConfig.for_data_dir(tmp_path_factory.mktemp("openapi")))


@pytest.fixture(scope="module")
def doc(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in _METHODS:
                yield path, method, operation


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(doc: dict[str, Any], pointer: str) -> Any:
    assert pointer.startswith("#/"), f"{pointer} is not a local reference"
    node: Any = doc
    for part in pointer[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{pointer} does not resolve"
        node = node[part]
    return node


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1.")
    validate(doc, cls=OpenAPIV31SpecValidator)


def test_every_reference_resolves(doc: dict[str, Any]) -> None:
    refs = set(_refs(doc))
    assert refs, "the document has no references at all"
    for pointer in sorted(refs):
        _resolve(doc, pointer)


def test_every_route_of_the_app_is_documented(app: FastAPI, doc: dict[str, Any]) -> None:
    routes = [
        (context.path_format, method.lower())
        for context in iter_route_contexts(app.routes)
        for method in getattr(context.route, "methods", None) or ()
        # HEAD is the GET that Starlette adds to its plain routes, answered by the same code.
        if method != "HEAD"
    ]
    assert len(routes) > 40
    missing = [f"{m.upper()} {p}" for p, m in routes if m not in doc["paths"].get(p, {})]
    assert missing == []


def test_each_kinesis_target_is_its_own_operation(doc: dict[str, Any]) -> None:
    for name in OPERATIONS:
        path = pseudo_path(name)
        assert path.startswith("/#")  # a fragment: the request is POST /
        operation = doc["paths"][path]["post"]
        [target] = [p for p in operation["parameters"] if p["name"] == "X-Amz-Target"]
        assert target["in"] == "header"
        assert target["required"] is True
        assert target["schema"]["const"] == TARGET_PREFIX + name
        assert "application/x-amz-json-1.1" in operation["requestBody"]["content"]
        assert {"200", "400", "401", "403", "413"} <= set(operation["responses"])
    # The dispatcher stays documented, with every target it accepts.
    dispatcher = doc["paths"]["/"]["post"]
    [header] = dispatcher["parameters"]
    assert set(header["schema"]["enum"]) == {TARGET_PREFIX + name for name in OPERATIONS}


def test_security_schemes_and_requirements(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["basic"]["scheme"] == "basic"
    assert (schemes["initialStateAccessKey"]["in"], schemes["initialStateAccessKey"]["name"]) == (
        "header",
        "X-IS-AccessKey",
    )
    assert doc["security"]
    for path, method, operation in _operations(doc):
        assert "security" in operation, f"{method} {path}"
        for requirement in operation["security"]:
            assert set(requirement) <= set(schemes), f"{method} {path}"
    # The probes are public; everything else names the key scope it needs.
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    assert doc["paths"]["/readyz"]["get"]["security"] == []
    assert {"bearer": ["write"]} in doc["paths"]["/1.0/events/put"]["post"]["security"]
    assert {"bearer": ["admin"]} in doc["paths"]["/1.0/events/delete"]["post"]["security"]
    put = doc["paths"][pseudo_path("PutRecord")]["post"]["security"]
    assert {"sigv4": ["write"]} in put
    assert doc["paths"]["/api/events"]["post"]["security"] == [
        {"initialStateAccessKey": ["write"]},
        {"initialStateAccessKeyQuery": ["write"]},
    ]


@pytest.mark.parametrize(
    ("path", "method", "shape"),
    [
        ("/1.0/events/put", "post", "KronosError"),
        ("/v1/ingest/{stream}", "post", "KronosError"),
        ("/api/events", "post", "InitialStateError"),
        ("/v1/events", "post", "SamsaraError"),
        ("/v1/streams/{stream}", "get", "AionError"),
        (pseudo_path("GetRecords"), "post", "KinesisError"),
        ("/v1/timeseries", "get", "AionError"),
    ],
)
def test_refusals_are_documented_in_the_family_shape(
    doc: dict[str, Any], path: str, method: str, shape: str
) -> None:
    responses = doc["paths"][path][method]["responses"]
    for status in ("401", "403"):
        [content] = responses[status]["content"].values()
        assert content["schema"] == {"$ref": f"#/components/schemas/{shape}"}, status
    assert "431" in responses


def test_every_operation_with_a_body_documents_the_size_limit(doc: dict[str, Any]) -> None:
    for path, method, operation in _operations(doc):
        if "requestBody" in operation:
            assert "413" in operation["responses"], f"{method} {path}"


def test_bodies_read_by_hand_are_documented(doc: dict[str, Any]) -> None:
    """Routes that read their body themselves (no FastAPI model) still document it."""
    for path, method in [
        ("/1.0/events/get", "post"),
        ("/v1/ingest/{namespace}/{stream}", "post"),
        ("/api/buckets", "post"),
        ("/api/events", "post"),
        ("/v1/events", "post"),
        ("/v1/streams/{stream}/records", "post"),
        ("/", "post"),
    ]:
        body = doc["paths"][path][method]["requestBody"]
        [content] = body["content"].values()
        assert content["schema"], f"{method} {path}"
    headers = {
        p["name"] for p in doc["paths"]["/v1/events"]["post"]["parameters"] if p["in"] == "header"
    }
    assert {"X-Samsara-publishedTimestamp", "X-Aion-Batch-Id", "Content-Encoding"} <= headers


def test_the_served_document_is_the_complete_one(app: FastAPI) -> None:
    with TestClient(app) as client:
        served = client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == app.openapi()
    assert "securitySchemes" in served.json()["components"]
