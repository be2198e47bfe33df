"""The Kronos HTTP API, black-box, with the behaviours of Kronos's own test_apis.py."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aion.core.ids import sort_key
from aion.server.app import create_app
from aion.server.config import AionConfig, Route, ServingMode
from tests.support.kronos import kronos_test_config


def put(client: TestClient, events: dict[str, list[dict[str, Any]]], **extra: Any) -> Any:
    r = client.post("/1.0/events/put", json={"events": events, **extra})
    return r


def get(client: TestClient, stream: str, start: int, end: int, **extra: Any) -> list[Any]:
    r = client.post(
        "/1.0/events/get",
        json={"stream": stream, "start_time": start, "end_time": end, **extra},
    )
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.split("\r\n") if line]


def test_index(client: TestClient) -> None:
    body = client.get("/1.0/index").json()
    assert body["@success"] is True
    assert body["storage"]["memory"]["alive"] is True
    assert body["@took"].endswith("ms")


def test_put_counts_per_backend_and_get_inclusive(client: TestClient) -> None:
    r = put(client, {"s": [{"@time": t, "v": t} for t in (3, 1, 2, 5, 4)], "t": [{"a": 1}]})
    assert r.status_code == 200
    body = r.json()
    assert body["s"] == {"memory": {"num_inserted": 5}}
    assert body["t"] == {"memory": {"num_inserted": 1}}
    assert body["@success"] is True
    assert [e["@time"] for e in get(client, "s", 1, 3)] == [1, 2, 3]
    assert [e["@time"] for e in get(client, "s", 0, 10, order="descending")] == [5, 4, 3, 2, 1]
    assert [e["@time"] for e in get(client, "s", 0, 10, limit=2)] == [1, 2]
    assert get(client, "s", 0, 10, limit=0) == []
    assert get(client, "s", 3, 1) == []
    assert get(client, "s", -10, -1) == []


def test_get_start_id_is_exclusive_and_ids_sorted(client: TestClient) -> None:
    put(client, {"s": [{"@time": 7} for _ in range(20)]})
    events = get(client, "s", 0, 10)
    keys = [sort_key(uuid.UUID(e["@id"])) for e in events]
    assert keys == sorted(keys)
    after = get(client, "s", 0, 10, start_id=events[4]["@id"])
    assert [e["@id"] for e in after] == [e["@id"] for e in events[5:]]


def test_streaming_in_chunks(client: TestClient) -> None:
    put(client, {"big": [{"@time": i, "pad": "x" * 50} for i in range(500)]})
    with client.stream(
        "POST", "/1.0/events/get", json={"stream": "big", "start_time": 0, "end_time": 10**6}
    ) as r:
        chunks = list(r.iter_raw())
    assert len(chunks) > 10  # flush_size is 512 bytes in this config
    assert b"".join(chunks).count(b"\r\n") == 500


def test_partial_success_keeps_valid_events(client: TestClient) -> None:
    r = put(client, {"s": [{"@time": 1}, {"@time": 1.5}, {"@time": "2"}, {"@time": True}],
                     "bad name": [{"a": 1}]})  # fmt: skip
    assert r.status_code == 200
    body = r.json()
    assert body["@success"] is False
    assert body["s"]["memory"]["num_inserted"] == 1
    assert len(body["@errors"]) == 4
    assert all("@time" in e for e in body["@errors"][:3]) or any(
        "bad name" in e for e in body["@errors"]
    )
    assert [e["@time"] for e in get(client, "s", 0, 10)] == [1]


def test_server_overwrites_client_ids(client: TestClient) -> None:
    put(client, {"s": [{"@time": 1, "@id": "mine"}]})
    (event,) = get(client, "s", 0, 10)
    assert uuid.UUID(event["@id"]).version == 1


def test_delete_counts_inclusive_and_start_id(client: TestClient) -> None:
    put(client, {"s": [{"@time": t} for t in range(1, 6)]})
    r = client.post("/1.0/events/delete", json={"stream": "s", "start_time": 2, "end_time": 4})
    assert r.json()["s"] == {"memory": {"num_deleted": 3}}
    assert [e["@time"] for e in get(client, "s", 0, 10)] == [1, 5]
    first = get(client, "s", 0, 10)[0]
    r = client.post(
        "/1.0/events/delete", json={"stream": "s", "start_id": first["@id"], "end_time": 10}
    )
    assert r.json()["s"]["memory"]["num_deleted"] == 1
    assert get(client, "s", 0, 10) == [first]


def test_namespaces_isolated(client: TestClient) -> None:
    put(client, {"s": [{"a": 1}]}, namespace="namespace1")
    put(client, {"s": [{"a": 1}, {"a": 2}]}, namespace="namespace2")
    end = 2**62
    assert len(get(client, "s", 0, end, namespace="namespace1")) == 1
    assert len(get(client, "s", 0, end, namespace="namespace2")) == 2
    assert get(client, "s", 0, end) == []  # the default namespace, kronos


def test_unknown_namespace_is_a_400_naming_it(client: TestClient) -> None:
    r = put(client, {"s": [{"a": 1}]}, namespace="nope")
    assert r.status_code == 400
    assert "nope" in r.json()["@errors"][0]
    r = client.post("/1.0/events/get", json={"stream": "s", "end_time": 1, "namespace": "nope"})
    assert r.status_code == 400


def test_streams_listing(client: TestClient) -> None:
    put(client, {"b.x": [{"a": 1}], "a.y": [{"a": 1}]})
    r = client.post("/1.0/streams", json={})
    assert r.text == "a.y\r\nb.x\r\n"


def test_infer_schema(client: TestClient) -> None:
    put(client, {"s": [{"a": 1}, {"a": 2.5, "b": "x"}]})
    body = client.post("/1.0/streams/infer_schema", json={"stream": "s"}).json()
    schema = body["schema"]
    assert body["stream"] == "s"
    assert body["namespace"] == "kronos"
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema"
    assert schema["required"] == ["@id", "@time", "a"]
    assert schema["properties"]["@time"] == {"type": "integer"}
    assert schema["properties"]["@id"] == {"type": "string"}
    assert schema["properties"]["a"] == {"type": "number"}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "valid JSON"),
        (b"[1,2]", "JSON object"),
        (b'{"stream": "s"}', "end_time"),
        (b'{"stream": "s", "end_time": "soon"}', "end_time"),
        (b'{"stream": "s", "end_time": true}', "end_time"),
        (b'{"stream": "a b", "end_time": 5}', "stream"),
        (b'{"stream": "s", "end_time": 5, "order": "sideways"}', "order"),
        (b'{"stream": "s", "end_time": 5, "start_id": "nope"}', "start_id"),
    ],
)
def test_bad_get_requests_are_400_naming_the_problem(
    client: TestClient, body: bytes, needle: str
) -> None:
    r = client.post("/1.0/events/get", content=body)
    assert r.status_code == 400
    assert needle in r.json()["@errors"][0]
    assert r.json()["@success"] is False


def test_bad_put_bodies(client: TestClient) -> None:
    assert client.post("/1.0/events/put", content=b"nope").status_code == 400
    r = client.post("/1.0/events/put", json={"events": {"s": {"not": "a list"}}})
    assert r.json()["@success"] is False


def test_unknown_path_and_wrong_method(client: TestClient) -> None:
    r = client.get("/nowhere")
    assert r.status_code == 404
    assert r.text == "Four, oh, four :'("
    r = client.get("/1.0/events/put")
    assert r.status_code == 405
    assert "POST" in r.headers["allow"]
    assert r.json()["@success"] is False


def test_body_limit_is_413(tmp_path: Path) -> None:
    config = kronos_test_config(tmp_path, max_body_bytes=2048)
    with TestClient(create_app(config)) as c:
        r = c.post("/1.0/events/put", json={"events": {"s": [{"pad": "x" * 4096}]}})
        assert r.status_code == 413
        assert "2048" in r.json()["@errors"][0]
        assert get(c, "s", 0, 2**62) == []


def test_cors_echoes_origin(client: TestClient) -> None:
    r = client.get("/1.0/index", headers={"Origin": "http://example.test"})
    assert r.headers["access-control-allow-origin"] in ("*", "http://example.test")
    r = client.options(
        "/1.0/events/put",
        headers={"Origin": "http://example.test", "Access-Control-Request-Method": "POST"},
    )
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("mode", "allowed"),
    [
        (ServingMode.ALL, {"index", "put", "get", "delete", "streams", "infer_schema"}),
        (ServingMode.COLLECTOR, {"index", "put"}),
        (ServingMode.READONLY, {"index", "get", "streams", "infer_schema"}),
    ],
)
def test_serving_modes(tmp_path: Path, mode: ServingMode, allowed: set[str]) -> None:
    config = kronos_test_config(tmp_path, serving_mode=mode)
    calls = {
        "index": ("GET", "/1.0/index", None),
        "put": ("POST", "/1.0/events/put", {"events": {"s": [{"a": 1}]}}),
        "get": ("POST", "/1.0/events/get", {"stream": "s", "end_time": 1}),
        "delete": ("POST", "/1.0/events/delete", {"stream": "s", "end_time": 1}),
        "streams": ("POST", "/1.0/streams", {}),
        "infer_schema": ("POST", "/1.0/streams/infer_schema", {"stream": "s"}),
    }
    with TestClient(create_app(config)) as c:
        for name, (method, path, body) in calls.items():
            r = c.request(method, path, json=body)
            if name in allowed:
                assert r.status_code == 200, (name, r.text)
            else:
                assert r.status_code == 403, name
                assert r.json()["@errors"] == [
                    "kronosd is configured to block access to this endpoint."
                ]


def test_openapi_describes_request_bodies(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/1.0/events/get"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert "end_time" in schema["required"]


def test_fan_out_with_a_down_backend_is_503_and_the_other_takes_the_write(
    tmp_path: Path,
) -> None:
    config = AionConfig(
        backends={
            "local": f"sqlite:///{tmp_path}/a.db",
            "down": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1",
        },
        routes=(Route("*", "", ("local", "down"), "local"),),
        data_dir=tmp_path,
    )
    with TestClient(create_app(config)) as c:
        r = c.post("/1.0/events/put", json={"events": {"s": [{"a": 1}]}})
        assert r.status_code == 503
        body = r.json()
        assert body["s"]["local"] == {"num_inserted": 1}
        # Not Kronos's -1: the down backend stored nothing, and says why.
        assert body["s"]["down"]["num_inserted"] == 0
        assert "postgresql" in " ".join(body["s"]["down"]["@errors"])
        assert body["@success"] is False
        assert "down" in " ".join(body["@errors"]) or "postgresql" in " ".join(body["@errors"])
        assert len(get(c, "s", 0, 2**62)) == 1


def test_reads_from_a_down_backend_are_503(tmp_path: Path) -> None:
    config = AionConfig(
        backends={"down": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"},
        routes=(Route("*", "", ("down",), "down"),),
        data_dir=tmp_path,
        streams="memory://",
    )
    with TestClient(create_app(config)) as c:
        r = c.post("/1.0/events/get", json={"stream": "s", "end_time": 10})
        assert r.status_code == 503
        assert "postgresql" in r.json()["@errors"][0]
        r = c.post("/1.0/events/put", json={"events": {"s": [{"a": 1}]}})
        assert r.status_code == 503
