"""A shard read returns at most 10 MiB of record data, on the native API and on Kinesis'
GetRecords alike; the next iterator goes on exactly after the last record returned."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aion.server.streams.kinesis_shapes import CONTENT_TYPE, TARGET_PREFIX
from aion.streams.protocol import MAX_READ_BYTES
from tests.server.streams.conftest import LiveServer

RECORDS = 15
DATA_BYTES = 1024 * 1024 - 1  # with the one-character partition key: 1 MiB, the record limit


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=60) as client:
        yield client


def _blob(i: int) -> bytes:
    return bytes([65 + i]) * DATA_BYTES


def _kinesis(http: httpx.Client, operation: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(
        "/",
        headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + operation},
        json=body,
    )
    assert response.status_code == 200, response.text
    out: dict[str, Any] = response.json()
    return out


def test_native_read_returns_at_most_10_mib(http: httpx.Client, stream_name: str) -> None:
    assert http.post("/v1/streams", json={"name": stream_name}).status_code == 201
    sequences: list[str] = []
    for start in range(0, RECORDS, 5):
        batch = [
            {"partition_key": "k", "data_base64": base64.b64encode(_blob(i)).decode()}
            for i in range(start, min(start + 5, RECORDS))
        ]
        put = http.post(f"/v1/streams/{stream_name}/records", json={"records": batch})
        assert put.status_code == 200, put.text
        sequences += [r["sequence"] for r in put.json()["records"]]
    made = http.post(f"/v1/streams/{stream_name}/shards/0/iterator", json={"type": "TRIM_HORIZON"})
    iterator = made.json()["iterator"]
    reads: list[list[dict[str, Any]]] = []
    while True:
        response = http.post(
            f"/v1/streams/{stream_name}/read",
            json={"iterator": iterator, "limit": 10_000, "encoding": "base64"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        if not body["records"]:
            break
        reads.append(body["records"])
        iterator = body["next_iterator"]
    assert [len(r) for r in reads] == [MAX_READ_BYTES // DATA_BYTES, 5] == [10, 5]
    got = [r for read in reads for r in read]
    assert [r["sequence"] for r in got] == sequences  # none lost, none repeated
    assert [base64.b64decode(r["data_base64"]) for r in got] == [_blob(i) for i in range(RECORDS)]
    first = sum(len(base64.b64decode(r["data_base64"])) for r in reads[0])
    assert first <= MAX_READ_BYTES


def test_kinesis_get_records_returns_at_most_10_mib(http: httpx.Client, stream_name: str) -> None:
    _kinesis(http, "CreateStream", {"StreamName": stream_name, "ShardCount": 1})
    sequences: list[str] = []
    for start in range(0, RECORDS, 4):  # PutRecords takes 5 MiB at most
        batch = [
            {"PartitionKey": "k", "Data": base64.b64encode(_blob(i)).decode()}
            for i in range(start, min(start + 4, RECORDS))
        ]
        put = _kinesis(http, "PutRecords", {"StreamName": stream_name, "Records": batch})
        assert put["FailedRecordCount"] == 0
        sequences += [r["SequenceNumber"] for r in put["Records"]]
    iterator = _kinesis(
        http,
        "GetShardIterator",
        {
            "StreamName": stream_name,
            "ShardId": "shardId-000000000000",
            "ShardIteratorType": "TRIM_HORIZON",
        },
    )["ShardIterator"]
    reads: list[list[dict[str, Any]]] = []
    while True:
        got = _kinesis(http, "GetRecords", {"ShardIterator": iterator})
        if not got["Records"]:
            break
        reads.append(got["Records"])
        iterator = got["NextShardIterator"]
    assert [len(r) for r in reads] == [10, 5]
    records = [r for read in reads for r in read]
    assert [r["SequenceNumber"] for r in records] == sequences
    assert [base64.b64decode(r["Data"]) for r in records] == [_blob(i) for i in range(RECORDS)]
    assert sum(len(base64.b64decode(r["Data"])) for r in reads[0]) <= MAX_READ_BYTES
