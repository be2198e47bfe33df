"""The native JSON streams API over HTTP against a live server."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from aion.core.sharding import shard_for_key
from tests.server.streams.conftest import LiveServer


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


def _create(http: httpx.Client, name: str, shards: int = 1, **extra: Any) -> dict[str, Any]:
    response = http.post("/v1/streams", json={"name": name, "shards": shards, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _iterator(http: httpx.Client, name: str, shard: int | str = 0, **body: Any) -> str:
    response = http.post(f"/v1/streams/{name}/shards/{shard}/iterator", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["iterator"])


def _read(http: httpx.Client, name: str, iterator: str, **body: Any) -> dict[str, Any]:
    response = http.post(f"/v1/streams/{name}/read", json={"iterator": iterator, **body})
    assert response.status_code == 200, response.text
    out: dict[str, Any] = response.json()
    return out


def test_stream_lifecycle(http: httpx.Client, stream_name: str) -> None:
    created = _create(http, stream_name, 3, retention_seconds=3600)
    assert created["name"] == stream_name
    assert created["retention_seconds"] == 3600
    assert [s["shard_id"] for s in created["shards"]] == [f"shardId-{i:012d}" for i in range(3)]
    assert isinstance(created["shards"][0]["ending_hash_key"], str)
    assert http.get(f"/v1/streams/{stream_name}").json() == created
    assert stream_name in http.get("/v1/streams").json()["streams"]
    # Idempotent with the same shard count, refused with another.
    assert http.post("/v1/streams", json={"name": stream_name, "shards": 3}).status_code == 201
    other = http.post("/v1/streams", json={"name": stream_name, "shards": 2})
    assert other.status_code == 400
    assert other.json()["error"]["field"] == "shards"
    assert http.delete(f"/v1/streams/{stream_name}").json() == {"deleted": stream_name}
    missing = http.get(f"/v1/streams/{stream_name}")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "StreamNotFound"


def test_namespaces_are_separate(http: httpx.Client, stream_name: str) -> None:
    response = http.post("/v1/streams?namespace=team-a", json={"name": stream_name})
    assert response.status_code == 201
    assert response.json()["namespace"] == "team-a"
    assert stream_name in http.get("/v1/streams?namespace=team-a").json()["streams"]
    assert http.get(f"/v1/streams/{stream_name}").status_code == 404


def test_put_json_and_bytes_and_read_back(http: httpx.Client, stream_name: str) -> None:
    _create(http, stream_name, 4)
    one = http.post(
        f"/v1/streams/{stream_name}/record",
        json={"partition_key": "user-1", "data": {"a": 1, "b": [True, None]}},
    ).json()
    assert one["shard"] == shard_for_key("user-1", 4)
    assert one["sequence"].isdigit()
    raw = bytes(range(256))
    batch = http.post(
        f"/v1/streams/{stream_name}/records",
        json={
            "records": [
                {"partition_key": "user-1", "data_base64": base64.b64encode(raw).decode()},
                {"partition_key": "user-1", "data": "text"},
            ]
        },
    ).json()["records"]
    assert [r["shard"] for r in batch] == [one["shard"]] * 2
    assert int(batch[0]["sequence"]) < int(batch[1]["sequence"])
    got = _read(http, stream_name, _iterator(http, stream_name, one["shard"], type="TRIM_HORIZON"))
    records = got["records"]
    assert records[0]["data"] == {"a": 1, "b": [True, None]}
    assert base64.b64decode(records[1]["data_base64"]) == raw
    assert records[2]["data"] == "text"
    assert records[0]["partition_key"] == "user-1"
    assert isinstance(records[0]["arrival_time"], int)
    exact = _read(
        http,
        stream_name,
        _iterator(http, stream_name, one["shard_id"], type="TRIM_HORIZON"),
        encoding="base64",
    )
    assert base64.b64decode(exact["records"][0]["data_base64"]) == b'{"a":1,"b":[true,null]}'


def test_iterator_positions(http: httpx.Client, stream_name: str) -> None:
    _create(http, stream_name)
    put = [
        http.post(
            f"/v1/streams/{stream_name}/record", json={"partition_key": "k", "data": i}
        ).json()
        for i in range(4)
    ]
    seq = [p["sequence"] for p in put]

    def data(**body: Any) -> list[Any]:
        return [
            r["data"]
            for r in _read(http, stream_name, _iterator(http, stream_name, **body))["records"]
        ]

    assert data(type="TRIM_HORIZON") == [0, 1, 2, 3]
    assert data(type="AT_SEQUENCE_NUMBER", sequence=seq[1]) == [1, 2, 3]
    assert data(type="AFTER_SEQUENCE_NUMBER", sequence=seq[1]) == [2, 3]
    assert data(type="LATEST") == []
    assert data(type="AT_TIMESTAMP", timestamp="+1h") == []
    assert data(type="AT_TIMESTAMP", timestamp=0) == [0, 1, 2, 3]
    past = http.post(
        f"/v1/streams/{stream_name}/shards/0/iterator",
        json={"type": "AT_SEQUENCE_NUMBER", "sequence": str(int(seq[-1]) + 10)},
    )
    assert past.status_code == 400
    assert past.json()["error"]["type"] == "SequencePastEnd"
    no_seq = http.post(
        f"/v1/streams/{stream_name}/shards/0/iterator", json={"type": "AT_SEQUENCE_NUMBER"}
    )
    assert no_seq.json()["error"]["field"] == "sequence"
    assert http.post(f"/v1/streams/{stream_name}/shards/5/iterator", json={}).status_code == 404
    assert http.post(f"/v1/streams/{stream_name}/shards/x/iterator", json={}).status_code == 400


def test_chained_reads_and_long_poll(
    http: httpx.Client, live: LiveServer, stream_name: str
) -> None:
    _create(http, stream_name)
    iterator = _iterator(http, stream_name, type="LATEST")

    def put_later() -> None:
        time.sleep(0.3)
        with httpx.Client(base_url=live.url) as other:
            other.post(
                f"/v1/streams/{stream_name}/record", json={"partition_key": "k", "data": "late"}
            )

    thread = threading.Thread(target=put_later)
    started = time.monotonic()
    thread.start()
    got = _read(http, stream_name, iterator, wait=5)
    thread.join()
    assert [r["data"] for r in got["records"]] == ["late"]
    assert time.monotonic() - started < 4
    started = time.monotonic()
    empty = _read(http, stream_name, got["next_iterator"], wait=0.2)
    assert empty["records"] == []
    assert time.monotonic() - started >= 0.15
    assert empty["millis_behind_latest"] == 0


def test_bad_input_names_the_field(http: httpx.Client, stream_name: str) -> None:
    _create(http, stream_name)
    url = f"/v1/streams/{stream_name}/records"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"records": [{"data": 1}]}, "records[0].partition_key"),
        ({"records": [{"partition_key": "k"}]}, "records[0].data"),
        ({"records": [{"partition_key": "", "data": 1}]}, "records[0].partition_key"),
        ({"records": []}, "records"),
        ({"records": [{"partition_key": "k", "data_base64": "%%%"}]}, "records[0].data_base64"),
    ]
    for body, field in cases:
        response = http.post(url, json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["field"] == field, response.json()
    bad_json = http.post(url, content=b"{", headers={"content-type": "application/json"})
    assert bad_json.json()["error"]["field"] == "body"
    read = http.post(f"/v1/streams/{stream_name}/read", json={"iterator": "nope"})
    assert read.json()["error"] == {
        "type": "InvalidIterator",
        "message": "the shard iterator is malformed",
        "field": "iterator",
    }
    too_long = http.post(
        f"/v1/streams/{stream_name}/read",
        json={"iterator": _iterator(http, stream_name), "wait": 60},
    )
    assert too_long.json()["error"]["field"] == "wait"
    assert http.get("/v1/streams", params={"namespace": "bad name!"}).status_code == 400


def test_record_over_one_mebibyte_is_413(http: httpx.Client, stream_name: str) -> None:
    _create(http, stream_name)
    big = base64.b64encode(b"x" * (1024 * 1024)).decode()
    response = http.post(
        f"/v1/streams/{stream_name}/record", json={"partition_key": "k", "data_base64": big}
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "RecordTooLarge"
    assert response.json()["error"]["field"] == "data"


def test_unknown_stream_is_404(http: httpx.Client) -> None:
    for method, path, body in [
        ("GET", "/v1/streams/nope", None),
        ("DELETE", "/v1/streams/nope", None),
        ("POST", "/v1/streams/nope/shards/0/iterator", {}),
        ("GET", "/v1/streams/nope/groups/g/checkpoints", None),
    ]:
        response = http.request(method, path, json=body)
        assert response.status_code == 404, (method, path)


@pytest.mark.parametrize("path", ["record", "records"])
def test_first_put_creates_the_stream(http: httpx.Client, stream_name: str, path: str) -> None:
    record = {"partition_key": "k", "data": {"n": 1}}
    body = record if path == "record" else {"records": [record, record]}
    response = http.post(f"/v1/streams/{stream_name}/{path}", json=body)
    assert response.status_code == 200, response.text
    described = http.get(f"/v1/streams/{stream_name}").json()
    assert len(described["shards"]) == 4  # default_stream_shards
    assert http.post(f"/v1/streams/{stream_name}/{path}", json=body).status_code == 200


def test_default_stream_shards_is_configurable(live: LiveServer, stream_name: str) -> None:
    config = live.app.state.config
    try:
        with httpx.Client(base_url=live.url, timeout=30) as http:
            live.app.state.config = replace(config, default_stream_shards=2)
            assert http.post(f"/v1/streams/{stream_name}/record", json=_ONE).status_code == 200
            assert len(http.get(f"/v1/streams/{stream_name}").json()["shards"]) == 2
            live.app.state.config = replace(config, default_stream_shards=0)
            refused = http.post(f"/v1/streams/{stream_name}-2/record", json=_ONE)
            assert refused.status_code == 404
            assert refused.json()["error"]["type"] == "StreamNotFound"
    finally:
        live.app.state.config = config


_ONE = {"partition_key": "k", "data": 1}


def _fill_shard_one(http: httpx.Client, stream: str, count: int) -> list[str]:
    """Put ``count`` records in shard 1 of a 2-shard stream; their sequence numbers."""
    record = {"partition_key": "k", "data": 1, "explicit_hash_key": str(2**127)}
    placed = http.post(f"/v1/streams/{stream}/records", json={"records": [record] * count})
    return [p["sequence"] for p in placed.json()["records"]]


def test_checkpoints_compare_and_set(http: httpx.Client, stream_name: str) -> None:
    _create(http, stream_name, 2)
    assert _fill_shard_one(http, stream_name, 9)[-1] == "9"
    base = f"/v1/streams/{stream_name}/groups/workers"
    assert http.get(f"{base}/checkpoints").json() == {"checkpoints": {}}
    ok = http.put(f"{base}/checkpoints/1", json={"sequence": "5", "expected": "0"})
    assert ok.json() == {"shard": 1, "sequence": "5"}
    stale = http.put(f"{base}/checkpoints/1", json={"sequence": "7", "expected": "0"})
    assert stale.status_code == 409
    assert stale.json()["error"]["type"] == "CheckpointConflict"
    assert http.put(f"{base}/checkpoints/1", json={"sequence": "9"}).status_code == 200
    assert http.get(f"{base}/checkpoints").json() == {"checkpoints": {"1": "9"}}
    assert http.put(f"{base}/checkpoints/7", json={"sequence": "1"}).status_code == 404


def test_checkpoint_past_the_shard_end_is_400(http: httpx.Client, stream_name: str) -> None:
    _create(http, stream_name, 2)
    base = f"/v1/streams/{stream_name}/groups/workers/checkpoints"
    assert _fill_shard_one(http, stream_name, 2) == ["1", "2"]
    for shard, sequence in [(0, "1"), (1, "3")]:  # shard 0 is empty, shard 1 ends at 2
        refused = http.put(f"{base}/{shard}", json={"sequence": sequence, "expected": "0"})
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["type"] == "SequencePastEnd"
        assert refused.json()["error"]["field"] == "sequence"
    assert http.get(base).json() == {"checkpoints": {}}
    assert http.put(f"{base}/1", json={"sequence": "2"}).json() == {"shard": 1, "sequence": "2"}


def test_leases_compare_and_set(http: httpx.Client, stream_name: str) -> None:
    _create(http, stream_name, 2)
    base = f"/v1/streams/{stream_name}/groups/workers/leases"
    taken = http.put(f"{base}/0", json={"owner": "w1", "expected_version": 0, "ttl_seconds": 10})
    lease = taken.json()
    assert lease["owner"] == "w1"
    assert lease["version"] == 1
    race = http.put(f"{base}/0", json={"owner": "w2", "expected_version": 0})
    assert race.status_code == 409
    listed = http.get(base).json()
    assert listed["leases"] == [lease]
    assert listed["server_time"] < lease["expires_at"]
    released = http.put(f"{base}/0", json={"owner": None, "expected_version": 1}).json()
    assert released["owner"] is None
    assert released["version"] == 2


def test_openapi_describes_every_body(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    paths = spec["paths"]
    put = paths["/v1/streams/{stream}/records"]["post"]
    schema = put["requestBody"]["content"]["application/json"]["schema"]
    assert "records" in schema["properties"]
    assert paths["/v1/streams"]["post"]["requestBody"]
    assert paths["/v1/streams/{stream}/read"]["post"]["requestBody"]
    assert paths["/v1/streams/{stream}/groups/{group}/leases/{shard}"]["put"]["requestBody"]
    assert "X-Amz-Target" in str(paths["/"]["post"])


def test_default_stream_shards_from_toml(tmp_path: Path) -> None:
    from aion.errors import ConfigurationError
    from aion.server.config import AionConfig

    assert AionConfig.for_data_dir(tmp_path).default_stream_shards == 4
    toml = tmp_path / "aion.toml"
    toml.write_text("default_stream_shards = 8\n")
    assert AionConfig.from_toml(toml, tmp_path).default_stream_shards == 8
    for bad in ("-1", "10001", '"4"'):
        toml.write_text(f"default_stream_shards = {bad}\n")
        with pytest.raises(ConfigurationError, match="default_stream_shards"):
            AionConfig.from_toml(toml, tmp_path)
