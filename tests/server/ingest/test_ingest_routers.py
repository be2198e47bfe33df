"""The Initial State and Samsara routers: status codes, limits, shapes, dedupe."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from aion.core.time import epoch_time_to_kronos_time, milliseconds_to_kronos_time
from aion.server.ingest.dedupe import BatchDeduplicator
from aion.server.ingest.initialstate_api import bucket_stream_name
from tests.support.sinks import ListSink, ingest_app

IS = {"X-IS-AccessKey": "ak", "X-IS-BucketKey": "bk", "Accept-Version": "<=0.0.4"}


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


@pytest.fixture
def client(sink: ListSink) -> Iterator[TestClient]:
    with TestClient(ingest_app(sink)) as c:
        yield c


def test_bucket_create_then_exists(client: TestClient) -> None:
    body = {"bucketKey": "bk", "bucketName": "My Bucket"}
    assert client.post("/api/buckets", json=body, headers=IS).status_code == 201
    assert client.post("/api/buckets", json=body, headers=IS).status_code == 204
    headers = {k: v for k, v in IS.items() if k != "X-IS-AccessKey"}
    assert client.post("/api/buckets", json=body, headers=headers).status_code == 401


def test_bucket_key_rules() -> None:
    assert bucket_stream_name("plain-key_1.x") == "plain-key_1.x"
    mapped = bucket_stream_name("my bucket/1")
    assert mapped.startswith("my_bucket_1-") and len(mapped) == len("my_bucket_1-") + 12
    assert bucket_stream_name("my bucket/1") == mapped
    assert bucket_stream_name("my_bucket_1") != mapped


@pytest.mark.parametrize("key", ["a:b", 'a"b', "a'b", "k" * 251])
def test_bad_bucket_keys_are_400(client: TestClient, key: str) -> None:
    r = client.post("/api/buckets", json={"bucketKey": key, "bucketName": "n"}, headers=IS)
    assert r.status_code == 400
    assert r.json()["message"]["error"]["field"] == "bucketKey"


def test_events_are_stored_with_exact_time(client: TestClient, sink: ListSink) -> None:
    body = [
        {"key": "temperature", "value": 21.5, "epoch": 1431261991.123456},
        {"key": "on", "value": True, "iso8601": "2015-05-10T12:46:31.5Z"},
        {"key": "msg", "value": "hi"},
    ]
    r = client.post("/api/events", json=body, headers=IS)
    assert r.status_code == 204, r.text
    (call,) = sink.calls
    assert (call.namespace, call.stream) == ("default", "bk")
    stored = call.events
    assert stored[0] == {
        "key": "temperature",
        "value": 21.5,
        "@time": epoch_time_to_kronos_time(1431261991.123456),
    }
    assert stored[0]["@time"] == 14312619911234560
    assert stored[1]["@time"] == 14312619915000000
    assert isinstance(stored[2]["@time"], int)
    single = client.post("/api/events", json={"key": "k", "value": 1, "epoch": 1}, headers=IS)
    assert single.status_code == 204
    assert sink.calls[-1].events == [{"key": "k", "value": 1, "@time": 10_000_000}]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"key": "k" * 251, "value": 1}, "key"),
        ({"key": "", "value": 1}, "key"),
        ({"key": "k", "value": "v" * 2001}, "value"),
        ({"key": "k", "value": {"nested": 1}}, "value"),
        ({"key": "k", "value": 1, "epoch": "soon"}, "epoch"),
    ],
)
def test_event_limits(client: TestClient, sink: ListSink, event: object, field: str) -> None:
    r = client.post("/api/events", json=[event], headers=IS)
    assert r.status_code == 400
    assert r.json()["message"]["error"]["field"] == field
    assert not sink.calls


def test_events_status_codes(client: TestClient, sink: ListSink) -> None:
    ok = [{"key": "k", "value": 1}]
    no_key = {"X-IS-BucketKey": "bk"}
    assert client.post("/api/events", json=ok, headers=no_key).status_code == 401
    no_bucket = {"X-IS-AccessKey": "ak"}
    assert client.post("/api/events", json=ok, headers=no_bucket).status_code == 400
    big = [{"key": "k", "value": "v" * 1000}] * 1100
    assert client.post("/api/events", json=big, headers=IS).status_code == 413
    old = {**IS, "Accept-Version": ">=1.0.0"}
    assert client.post("/api/events", json=ok, headers=old).status_code == 400
    bad_json = client.post("/api/events", content=b"{nope", headers=IS)
    assert bad_json.status_code == 400
    sink.down = True
    assert client.post("/api/events", json=ok, headers=IS).status_code == 503


def test_duplicate_batch_ids_are_dropped(client: TestClient, sink: ListSink) -> None:
    headers = {**IS, "X-Aion-Batch-Id": "b1"}
    for _ in range(3):
        assert client.post("/api/events", json=[{"key": "k", "value": 1}], headers=headers)
    assert len(sink.calls) == 1
    sam = {"Content-Type": "application/json", "X-Aion-Batch-Id": "b1"}
    ev = [{"eventName": "e", "sourceId": "s", "timestamp": 1}]
    client.post("/v1/events", json=ev, headers=sam)
    client.post("/v1/events", json=ev, headers=sam)
    assert len(sink.calls) == 2  # different stream: its own scope


def test_a_failed_store_can_be_retried_with_the_same_id(client: TestClient, sink: ListSink) -> None:
    headers = {**IS, "X-Aion-Batch-Id": "b2"}
    sink.down = True
    assert client.post("/api/events", json=[{"key": "k", "value": 1}], headers=headers)
    sink.down = False
    r = client.post("/api/events", json=[{"key": "k", "value": 1}], headers=headers)
    assert r.status_code == 204 and len(sink.calls) == 1


async def test_concurrent_duplicates_share_one_store() -> None:
    dedupe = BatchDeduplicator(capacity=2)
    stored: list[int] = []

    async def store() -> None:
        await asyncio.sleep(0.05)
        stored.append(1)

    ran = await asyncio.gather(*(dedupe.run_once("s", "x", store) for _ in range(5)))
    assert sorted(ran) == [False, False, False, False, True] and stored == [1]
    for other in ("y", "z"):
        await dedupe.run_once("s", other, store)
    assert not dedupe.seen("s", "x")  # evicted: the LRU is bounded


SAM = {"Content-Type": "application/json", "X-Samsara-publishedTimestamp": "1431261991999"}


def test_samsara_accepts_gzip_and_enriches(client: TestClient, sink: ListSink) -> None:
    events = [
        {"eventName": "user.logged", "sourceId": "d1", "timestamp": 1431261991023, "x": 1},
        {"eventName": "user.left", "sourceId": "d2", "timestamp": 1431261991024, "receivedAt": 5},
    ]
    body = gzip.compress(json.dumps(events).encode())
    r = client.post("/v1/events", content=body, headers={**SAM, "Content-Encoding": "GZIP"})
    assert r.status_code == 202 and r.content == b""
    (call,) = sink.calls
    assert call.stream == "samsara" and call.partition_keys == ["d1", "d2"]
    first, second = call.events
    assert first["@time"] == milliseconds_to_kronos_time(1431261991023)
    assert first["publishedAt"] == 1431261991999 and first["x"] == 1
    assert isinstance(first["receivedAt"], int) and second["receivedAt"] == 5


def test_samsara_whole_batch_validation(client: TestClient, sink: ListSink) -> None:
    events = [
        {"eventName": "ok", "sourceId": "s", "timestamp": 1},
        {"eventName": "bad", "sourceId": "s", "timestamp": "x"},
        {"sourceId": 3, "timestamp": 1},
    ]
    r = client.post("/v1/events", json=events, headers=SAM)
    assert r.status_code == 400
    verdicts = r.json()
    assert verdicts[0] == "OK"
    assert verdicts[1] == '{:timestamp (not (integer? "x"))}'
    assert ":eventName missing-required-key" in verdicts[2]
    assert ":sourceId" in verdicts[2]
    assert not sink.calls


def test_samsara_headers_and_status(client: TestClient, sink: ListSink) -> None:
    ev = [{"eventName": "e", "sourceId": "s", "timestamp": 1}]
    text = client.post("/v1/events", content=json.dumps(ev), headers={"Content-Type": "text/plain"})
    assert text.status_code == 400
    assert text.json()["message"] == "Invalid format, content-type must be application/json"
    vendor = client.post(
        "/v1/events", content=json.dumps(ev), headers={"Content-Type": "application/x+json"}
    )
    assert vendor.status_code == 202
    assert vendor.json()["warning"].startswith("For completeness")
    bad_ts = client.post(
        "/v1/events", json=ev, headers={**SAM, "X-Samsara-publishedTimestamp": "yesterday"}
    )
    assert bad_ts.status_code == 400
    assert client.post("/v1/events", json={"not": "a list"}, headers=SAM).status_code == 400
    assert client.get("/v1/api-status").json() == {"status": "online"}
    sink.down = True
    assert client.post("/v1/events", json=ev, headers=SAM).status_code == 503
