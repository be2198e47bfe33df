"""Kinesis validation errors in AWS's own wording, on the wire: clients match on it (the
async-kinesis producer halves its batch only on "Member must have length less than or equal
to 500")."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aion.server.streams.kinesis_shapes import CONTENT_TYPE, TARGET_PREFIX
from tests.server.streams.conftest import LiveServer

PREFIX = "1 validation error detected: "


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


def _error(http: httpx.Client, operation: str, body: dict[str, Any]) -> tuple[str, str]:
    answer = http.post(
        "/",
        headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + operation},
        json=body,
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()
    return error["__type"], error["message"]


def _constraint(value: str, where: str, constraint: str) -> tuple[str, str]:
    return (
        "ValidationException",
        f"{PREFIX}Value {value} at '{where}' failed to satisfy constraint: Member {constraint}",
    )


def _record(key: str = "k", data: bytes = b"hi") -> dict[str, str]:
    return {"PartitionKey": key, "Data": base64.b64encode(data).decode()}


def test_put_records_counts(http: httpx.Client, stream_name: str) -> None:
    http.post("/v1/streams", json={"name": stream_name})
    many = {"StreamName": stream_name, "Records": [_record()] * 501}
    code, message = _error(http, "PutRecords", many)
    assert code == "ValidationException"
    assert message.startswith(PREFIX + "Value '[")
    assert message.endswith(
        "]' at 'records' failed to satisfy constraint: "
        "Member must have length less than or equal to 500"
    )
    none = {"StreamName": stream_name, "Records": []}
    assert _error(http, "PutRecords", none) == _constraint(
        "'[]'", "records", "must have length greater than or equal to 1"
    )
    missing = {"StreamName": stream_name}
    assert _error(http, "PutRecords", missing) == _constraint("null", "records", "must not be null")


def test_member_lengths(http: httpx.Client, stream_name: str) -> None:
    http.post("/v1/streams", json={"name": stream_name})
    key = "k" * 257
    put = {"StreamName": stream_name, **_record(key)}
    assert _error(http, "PutRecord", put) == _constraint(
        f"'{key}'", "partitionKey", "must have length less than or equal to 256"
    )
    put = {"StreamName": stream_name, **_record("")}
    assert _error(http, "PutRecord", put) == _constraint(
        "''", "partitionKey", "must have length greater than or equal to 1"
    )
    batch = {"StreamName": stream_name, "Records": [_record(), _record("")]}
    assert _error(http, "PutRecords", batch) == _constraint(
        "''", "records.2.member.partitionKey", "must have length greater than or equal to 1"
    )
    big = {"StreamName": stream_name, **_record("k", b"x" * (1 << 20))}
    assert _error(http, "PutRecord", big) == _constraint(
        "'java.nio.HeapByteBuffer[pos=0 lim=1048576 cap=1048576]'",
        "data",
        "must have length less than or equal to 1048575",
    )
    name = "n" * 129
    assert _error(http, "DescribeStream", {"StreamName": name}) == _constraint(
        f"'{name}'", "streamName", "must have length less than or equal to 128"
    )
    assert _error(http, "CreateStream", {"StreamName": ""}) == _constraint(
        "''", "streamName", "must have length greater than or equal to 1"
    )


def test_ranges_enums_and_missing_members(http: httpx.Client, stream_name: str) -> None:
    assert _error(http, "CreateStream", {"StreamName": stream_name, "ShardCount": 0}) == (
        _constraint("'0'", "shardCount", "must have value greater than or equal to 1")
    )
    made = {"StreamName": stream_name, "ShardCount": 1}
    assert http.post(
        "/", headers={"X-Amz-Target": TARGET_PREFIX + "CreateStream"}, json=made
    ).is_success
    iterator = {"StreamName": stream_name, "ShardId": "shardId-000000000000"}
    assert _error(http, "GetShardIterator", {**iterator, "ShardIteratorType": "OLDEST"}) == (
        _constraint(
            "'OLDEST'",
            "shardIteratorType",
            "must satisfy enum value set: "
            "[TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP]",
        )
    )
    assert _error(http, "GetShardIterator", {"StreamName": stream_name}) == _constraint(
        "null", "shardId", "must not be null"
    )
    assert _error(http, "GetRecords", {"ShardIterator": "x", "Limit": 10_001}) == _constraint(
        "'10001'", "limit", "must have value less than or equal to 10000"
    )
    put = {"StreamName": stream_name, **_record(), "ExplicitHashKey": "-1"}
    assert _error(http, "PutRecord", put) == _constraint(
        "'-1'", "explicitHashKey", "must satisfy regular expression pattern: 0|([1-9]\\d{0,38})"
    )
