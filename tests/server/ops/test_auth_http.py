"""API keys over HTTP on every API family: no key, a wrong key, a revoked key, the right key,
a key of another namespace and a key without the scope, each answered in the family's shape.

Kinesis, whose clients sign with SigV4 instead of sending a bearer token, is tested through
boto3 in ``test_auth_kinesis.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support.keys import Keys, bearer

Send = Callable[[TestClient, str | None, str], httpx.Response]


def _kronos(endpoint: str, body: dict[str, Any]) -> Send:
    def send(client: TestClient, token: str | None, namespace: str) -> httpx.Response:
        headers = bearer(token) if token else {}
        payload = {**body, "namespace": namespace}
        return client.post(f"/1.0/{endpoint}", json=payload, headers=headers)

    return send


def _ingest(client: TestClient, token: str | None, namespace: str) -> httpx.Response:
    headers = bearer(token) if token else {}
    return client.post(f"/v1/ingest/{namespace}/s", json=[{"v": 1}], headers=headers)


def _initialstate(client: TestClient, token: str | None, namespace: str) -> httpx.Response:
    headers = {"X-IS-BucketKey": "bucket"}
    if token:
        headers["X-IS-AccessKey"] = token
    return client.post("/api/events", json=[{"key": "k", "value": 1}], headers=headers)


def _samsara(client: TestClient, token: str | None, namespace: str) -> httpx.Response:
    headers = {"X-Samsara-publishedTimestamp": str(int(time.time() * 1000))}
    headers |= bearer(token) if token else {}
    event = {"timestamp": int(time.time() * 1000), "sourceId": "a", "eventName": "e"}
    return client.post("/v1/events", json=[event], headers=headers)


def _streams_list(client: TestClient, token: str | None, namespace: str) -> httpx.Response:
    headers = bearer(token) if token else {}
    return client.get("/v1/streams", params={"namespace": namespace}, headers=headers)


def _streams_create(client: TestClient, token: str | None, namespace: str) -> httpx.Response:
    headers = bearer(token) if token else {}
    return client.post(
        "/v1/streams", params={"namespace": namespace}, json={"name": "s"}, headers=headers
    )


def _kinesis(operation: str, body: dict[str, Any]) -> Send:
    def send(client: TestClient, token: str | None, namespace: str) -> httpx.Response:
        headers = {"X-Amz-Target": f"Kinesis_20131202.{operation}"}
        headers |= bearer(token) if token else {}
        return client.post("/", content=json.dumps(body), headers=headers)

    return send


def _get(path: str, **params: Any) -> Send:
    def send(client: TestClient, token: str | None, namespace: str) -> httpx.Response:
        headers = bearer(token) if token else {}
        return client.get(path, params={**params, "namespace": namespace}, headers=headers)

    return send


def _is_kronos(body: Any) -> bool:
    return body["@success"] is False and isinstance(body["@errors"][0], str)


def _is_initialstate(body: Any) -> bool:
    return body["message"]["error"]["type"] in ("UNAUTHORIZED", "FORBIDDEN", "VALIDATION")


def _is_samsara(body: Any) -> bool:
    return body["status"] == "ERROR" and isinstance(body["message"], str)


def _is_native(body: Any) -> bool:
    # The type is the exception's class name (a repeated header is a RepeatedField).
    return body["error"]["type"] in (
        "Unauthorized",
        "Forbidden",
        "ValidationError",
        "RepeatedField",
    )


def _is_kinesis(body: Any) -> bool:
    return body["__type"] in (
        "UnrecognizedClientException", "AccessDeniedException", "InvalidArgumentException"
    )  # fmt: skip


@dataclass(frozen=True)
class Family:
    """A request of one API family, the key that may send it, one that lacks the scope, and
    where its namespace comes from: ``named`` in the request, the ``key``'s own (Initial State,
    Samsara), or ``fixed`` (Kinesis: the default namespace; metrics: every namespace)."""

    name: str
    send: Send
    ok: int
    right: str
    wrong_scope: str
    shape: Callable[[Any], bool]
    namespace: str


FAMILIES = [
    Family("kronos-put", _kronos("events/put", {"events": {"s": [{"v": 1}]}}), 200, "write",
           "read", _is_kronos, "named"),
    Family("kronos-get", _kronos("events/get", {"stream": "s", "end_time": 2**60}), 200, "read",
           "write", _is_kronos, "named"),
    Family("kronos-delete", _kronos("events/delete", {"stream": "s", "end_time": 2**60}), 200,
           "admin", "rw", _is_kronos, "named"),
    Family("kronos-streams", _kronos("streams", {}), 200, "read", "write", _is_kronos, "named"),
    Family("ingest", _ingest, 200, "write", "read", _is_kronos, "named"),
    Family("initialstate", _initialstate, 204, "write", "read", _is_initialstate, "key"),
    Family("samsara", _samsara, 202, "write", "read", _is_samsara, "key"),
    Family("streams-read", _streams_list, 200, "read", "write", _is_native, "named"),
    Family("streams-admin", _streams_create, 201, "admin", "rw", _is_native, "named"),
    Family("kinesis-read", _kinesis("ListStreams", {}), 200, "read", "write", _is_kinesis,
           "fixed"),
    Family("kinesis-write", _kinesis("PutRecord", {"StreamName": "k", "PartitionKey": "p",
           "Data": "aGk="}), 404, "write", "read", _is_kinesis, "fixed"),
    Family("kinesis-admin", _kinesis("CreateStream", {"StreamName": "k2", "ShardCount": 1}),
           200, "admin", "rw", _is_kinesis, "fixed"),
    Family("timeseries", _get("/v1/timeseries"), 200, "read", "write", _is_native, "named"),
    Family("dashboard", _get("/ui/api/streams"), 200, "read", "write", _is_native, "named"),
    Family("dashboard-sse", _get("/ui/api/tail", stream="s", after="not-an-id"), 400, "read",
           "write", _is_native, "named"),
    Family("metrics", _get("/metrics"), 200, "root", "admin", _is_native, "fixed"),
]  # fmt: skip
IDS = [f.name for f in FAMILIES]


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_no_key_is_401_in_the_family_shape(client: TestClient, family: Family) -> None:
    response = family.send(client, None, "default")
    assert response.status_code == 401, response.text
    assert family.shape(response.json())
    assert "www-authenticate" in response.headers


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
@pytest.mark.parametrize("which", ["wrong", "revoked"])
def test_wrong_or_revoked_key_is_401(
    client: TestClient, keys: Keys, family: Family, which: str
) -> None:
    response = family.send(client, getattr(keys, which), "default")
    assert response.status_code == 401, response.text
    assert family.shape(response.json())


def _repeating(client: TestClient, name: str, *values: str) -> None:
    """Make ``client`` send every request with more ``name`` headers, after any it has."""

    def repeat(request: httpx.Request) -> None:
        extra = [(name, value) for value in values]
        request.headers = httpx.Headers([*request.headers.multi_items(), *extra])

    client.event_hooks = {"request": [repeat], "response": []}


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_a_repeated_credential_is_400_and_changes_nothing(
    client: TestClient, keys: Keys, family: Family
) -> None:
    # The right key first, then an all-powerful one: whichever copy a reader took, it must
    # not be the check that reads one and the handler another.
    if family.name == "initialstate":
        _repeating(client, "X-IS-AccessKey", keys.root)
    else:
        _repeating(client, "Authorization", f"Bearer {keys.root}")
    response = family.send(client, getattr(keys, family.right), "default")
    assert response.status_code == 400, response.text
    assert family.shape(response.json())
    client.event_hooks = {"request": [], "response": []}
    listed = client.get("/v1/streams", headers=bearer(keys.root)).json()["streams"]
    assert listed == []  # no write of any family went through
    assert _stored(client, keys, "default", "s") == []


@pytest.mark.parametrize(
    "header", ["Content-Encoding", "Content-Length", "X-IS-BucketKey", "X-Amz-Target"]
)
def test_other_repeated_security_headers_are_400(
    client: TestClient, keys: Keys, header: str
) -> None:
    if header == "Content-Length":
        _repeating(client, header, "0")  # httpx sends the first
    else:
        _repeating(client, header, "identity", "gzip")
    response = _kronos("events/put", {"events": {"s": [{"v": 1}]}})(client, keys.rw, "default")
    assert response.status_code == 400, response.text
    assert header.lower() in response.json()["@errors"][0]
    client.event_hooks = {"request": [], "response": []}
    assert _stored(client, keys, "default", "s") == []


def test_a_repeated_kinesis_target_cannot_turn_a_read_into_a_delete(
    client: TestClient, keys: Keys
) -> None:
    """The check once read the last X-Amz-Target and the handler the first: a read key
    deleted a stream (and, through the shared tables, a Kronos stream's events)."""
    created = _kinesis("CreateStream", {"StreamName": "kept", "ShardCount": 1})
    assert created(client, keys.root, "default").status_code == 200
    delete = _kinesis("DeleteStream", {"StreamName": "kept"})
    for last in ("ListStreams", "DescribeStream"):
        _repeating(client, "X-Amz-Target", f"Kinesis_20131202.{last}")
        response = delete(client, keys.read, "default")
        assert response.status_code == 400, response.text
        assert response.json()["__type"] == "InvalidArgumentException"
    client.event_hooks = {"request": [], "response": []}
    listed = _kinesis("ListStreams", {})(client, keys.read, "default")
    assert listed.json()["StreamNames"] == ["kept"]


def test_a_repeated_namespace_parameter_is_400(client: TestClient, keys: Keys) -> None:
    response = client.get(
        "/v1/streams?namespace=other&namespace=default", headers=bearer(keys.read)
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "namespace"


def test_a_garbled_token_is_401(client: TestClient) -> None:
    for token in ["nonsense", "aion_zz_x", "aion_0123456789ab_"]:
        response = client.get("/v1/streams", headers=bearer(token))
        assert response.status_code == 401


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_right_key_passes(client: TestClient, keys: Keys, family: Family) -> None:
    response = family.send(client, getattr(keys, family.right), "default")
    assert response.status_code == family.ok, response.text


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_key_without_the_scope_is_403(client: TestClient, keys: Keys, family: Family) -> None:
    response = family.send(client, getattr(keys, family.wrong_scope), "default")
    assert response.status_code == 403, response.text
    assert family.shape(response.json())


@pytest.mark.parametrize("family", [f for f in FAMILIES if f.namespace != "key"], ids=str)
def test_key_of_another_namespace_is_403(client: TestClient, keys: Keys, family: Family) -> None:
    response = family.send(client, keys.other, "default")
    assert response.status_code == 403, response.text
    assert family.shape(response.json())
    assert "namespace" in response.text


@pytest.mark.parametrize("family", [f for f in FAMILIES if f.namespace == "named"], ids=str)
def test_namespace_named_in_the_request_decides(
    client: TestClient, keys: Keys, family: Family
) -> None:
    assert family.send(client, keys.other, "other").status_code == family.ok
    refused = family.send(client, getattr(keys, family.right), "other")
    assert refused.status_code == 403
    assert family.send(client, keys.root, "other").status_code == family.ok


def test_revocation_is_seen_without_a_restart(client: TestClient, app: FastAPI, keys: Keys) -> None:
    from aion.server.ops.keys import KeyStore

    assert _streams_list(client, keys.read, "default").status_code == 200
    KeyStore(app.state.config.data_dir).revoke(keys.read.split("_")[1])
    assert _streams_list(client, keys.read, "default").status_code == 401


def test_health_probes_need_no_key(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_metrics_need_a_key_for_every_namespace(client: TestClient, keys: Keys) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer(keys.admin)).status_code == 403
    assert client.get("/metrics", headers=bearer(keys.root)).status_code == 200


def test_basic_auth_carries_the_key_as_password(client: TestClient, keys: Keys) -> None:
    response = client.get("/v1/streams", auth=("anyone", keys.read))
    assert response.status_code == 200


def test_no_keys_means_open(tmp_path: Any) -> None:
    from aion.server.app import create_app
    from tests.support.keys import memory_config

    with TestClient(create_app(memory_config(tmp_path))) as client:
        assert _streams_list(client, None, "default").status_code == 200
        assert _kronos("events/put", {"events": {"s": [{}]}})(client, None, "x").status_code == 200


def test_cors_preflight_passes_without_a_key(client: TestClient) -> None:
    response = client.options(
        "/1.0/events/put",
        headers={"Origin": "http://example.com", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 200


def _routes(routes: list[Any]) -> list[Any]:
    """Every route, included routers walked into."""
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)
        found += _routes(included.routes) if included is not None else [route]
    return found


def _other_routes(app: FastAPI, prefixes: tuple[str, ...]) -> list[str]:
    """The GET routes under ``prefixes`` that the app has now, path parameters filled in."""
    paths = []
    for route in _routes(app.routes):
        path = getattr(route, "path", "")
        if path.startswith(prefixes) and "GET" in (getattr(route, "methods", None) or ()):
            paths.append(path.replace("{name:path}", "t").replace("{path:path}", "x.js"))
    return sorted(set(paths))


def test_timeseries_and_dashboard_routes_need_a_read_key(
    client: TestClient, app: FastAPI, keys: Keys
) -> None:
    paths = _other_routes(app, ("/v1/timeseries", "/ui"))
    assert paths, "no timeseries or dashboard route found"
    for path in paths:
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=bearer(keys.wrong)).status_code == 401, path
        assert client.get(path, headers=bearer(keys.revoked)).status_code == 401, path
        assert client.get(path, headers=bearer(keys.write)).status_code == 403, path
        other = client.get(path, headers=bearer(keys.other), follow_redirects=False)
        # The page and its list of namespaces touch no namespace; every other read does.
        shell = path in ("/ui", "/ui/", "/ui/api/namespaces") or path.startswith("/ui/static/")
        assert other.status_code == (403 if not shell else other.status_code), path
        assert other.status_code not in ((401,) if shell else (401, 200)), path
        passed = client.get(path, headers=bearer(keys.read), follow_redirects=False)
        assert passed.status_code not in (401, 403), path
        refused = client.get(path)
        if path.startswith("/ui"):
            assert refused.headers["www-authenticate"].startswith("Basic")
        else:
            assert refused.json()["error"]["type"] == "Unauthorized"


def _stored(client: TestClient, keys: Keys, namespace: str, stream: str) -> list[dict[str, Any]]:
    body = {"stream": stream, "end_time": 2**60, "namespace": namespace}
    answer = client.post("/1.0/events/get", json=body, headers=bearer(keys.root))
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.content.split(b"\r\n") if line]


@pytest.mark.parametrize("family", [f for f in FAMILIES if f.namespace == "key"], ids=str)
def test_apis_without_namespaces_write_to_the_keys_namespace(
    client: TestClient, keys: Keys, family: Family
) -> None:
    stream = "bucket" if family.name == "initialstate" else "samsara"
    before = len(_stored(client, keys, "default", stream))
    assert family.send(client, keys.other, "unused").status_code == family.ok
    assert len(_stored(client, keys, "other", stream)) == 1  # the key's namespace...
    assert len(_stored(client, keys, "default", stream)) == before  # ...not the default one
    assert family.send(client, keys.root, "unused").status_code == family.ok
    assert len(_stored(client, keys, "default", stream)) == before + 1  # '*' keys: the default
