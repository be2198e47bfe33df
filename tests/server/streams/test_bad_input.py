"""Bad input on the native streams API and the Kinesis API is a 4xx naming the field, and
changes nothing: numbers past 64 bits or past any sensible time, non-ASCII characters where
only ASCII digits or base64 belong, partition keys over 256 characters."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aion.server.streams.iterators import IteratorState, codec_for
from aion.server.streams.kinesis_shapes import CONTENT_TYPE, TARGET_PREFIX
from aion.streams.protocol import Position, PositionKind
from tests.server.streams.conftest import LiveServer

ARABIC_ZEROS = "\u0660" * 12  # Arabic-Indic zeros: digits to \d and int(), not to a shard id


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


def _refused(response: httpx.Response, field: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field, response.json()


def _kinesis(http: httpx.Client, operation: str, body: dict[str, Any]) -> httpx.Response:
    return http.post(
        "/",
        headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + operation},
        json=body,
    )


def _kinesis_refused(response: httpx.Response, code: str, *names: str) -> None:
    # The status follows aion.server.errors, as on every family: an unknown resource is 404.
    status = 404 if code == "ResourceNotFoundException" else 400
    assert response.status_code == status, response.text
    body = response.json()
    assert body["__type"] == code, body
    for name in names:
        assert name in body["message"], body


def _records(http: httpx.Client, stream: str) -> list[str]:
    """Every record's sequence in shard 0."""
    made = http.post(f"/v1/streams/{stream}/shards/0/iterator", json={"type": "TRIM_HORIZON"})
    read = http.post(f"/v1/streams/{stream}/read", json={"iterator": made.json()["iterator"]})
    return [r["sequence"] for r in read.json()["records"]]


# -- the native API --------------------------------------------------------------------------


def test_native_retention_beyond_100_years(http: httpx.Client, stream_name: str) -> None:
    for retention in (2**70, 10**12, 0, -1):
        response = http.post(
            "/v1/streams", json={"name": stream_name, "retention_seconds": retention}
        )
        _refused(response, "retention_seconds")
    assert stream_name not in http.get("/v1/streams").json()["streams"]


def test_native_iterator_timestamp_out_of_range(http: httpx.Client, stream_name: str) -> None:
    http.post("/v1/streams", json={"name": stream_name})
    url = f"/v1/streams/{stream_name}/shards/0/iterator"
    for timestamp in (2**70, 10**17, -1, "1e300", "1e1000000", "-1e12", "9999-12-31T00:00:00Z"):
        response = http.post(url, json={"type": "AT_TIMESTAMP", "timestamp": timestamp})
        _refused(response, "timestamp")
    fine = http.post(url, json={"type": "AT_TIMESTAMP", "timestamp": "2200-01-01T00:00:00Z"})
    assert fine.status_code == 200, fine.text


def test_native_sequences_past_64_bits(http: httpx.Client, stream_name: str) -> None:
    http.post("/v1/streams", json={"name": stream_name})
    base = f"/v1/streams/{stream_name}/groups/g/checkpoints"
    _refused(http.put(f"{base}/0", json={"sequence": str(2**70)}), "sequence")
    _refused(http.put(f"{base}/0", json={"sequence": "9" * 5000}), "sequence")
    _refused(http.put(f"{base}/0", json={"sequence": "1", "expected": str(2**64)}), "expected")
    assert http.get(base).json() == {"checkpoints": {}}
    iterator = f"/v1/streams/{stream_name}/shards/0/iterator"
    for sequence in (str(2**70), "9" * 5000):
        response = http.post(iterator, json={"type": "AT_SEQUENCE_NUMBER", "sequence": sequence})
        _refused(response, "sequence")


def test_native_lease_numbers_and_owner(http: httpx.Client, stream_name: str) -> None:
    http.post("/v1/streams", json={"name": stream_name})
    url = f"/v1/streams/{stream_name}/groups/g/leases/0"
    for version in (2**70, 2**63 - 1, -1):
        _refused(
            http.put(url, json={"owner": "w", "expected_version": version}), "expected_version"
        )
    _refused(http.put(url, json={"owner": "w" * 257, "expected_version": 0}), "owner")
    assert http.get(f"/v1/streams/{stream_name}/groups/g/leases").json()["leases"] == []


def test_native_non_ascii_base64_and_shard_ids(http: httpx.Client, stream_name: str) -> None:
    http.post("/v1/streams", json={"name": stream_name, "shards": 2})
    one = http.post(
        f"/v1/streams/{stream_name}/record",
        json={"partition_key": "k", "data_base64": "aGVsbG8\u0663"},
    )
    _refused(one, "data_base64")
    batch = http.post(
        f"/v1/streams/{stream_name}/records",
        json={
            "records": [
                {"partition_key": "k", "data": 1},
                {"partition_key": "k", "data_base64": "\u00e9\u00e9\u00e9\u00e9"},
            ]
        },
    )
    _refused(batch, "records[1].data_base64")
    for shard in (f"shardId-{ARABIC_ZEROS}", "\u0661", "shardId-00000000000\u0661"):
        iterator = http.post(f"/v1/streams/{stream_name}/shards/{shard}/iterator", json={})
        _refused(iterator, "shard")
        checkpoint = http.put(
            f"/v1/streams/{stream_name}/groups/g/checkpoints/{shard}", json={"sequence": "0"}
        )
        _refused(checkpoint, "shard")
    assert _records(http, stream_name) == []


def test_native_partition_keys_and_hash_keys(http: httpx.Client, stream_name: str) -> None:
    http.post("/v1/streams", json={"name": stream_name})
    long_key = "k" * 257
    _refused(
        http.post(f"/v1/streams/{stream_name}/record", json={"partition_key": long_key, "data": 1}),
        "partition_key",
    )
    batch = {"records": [{"partition_key": "k", "data": 1}, {"partition_key": long_key, "data": 1}]}
    _refused(
        http.post(f"/v1/streams/{stream_name}/records", json=batch), "records[1].partition_key"
    )
    # Longer than a record may be at all: still the key that is named, not the record size.
    huge = {"partition_key": "k" * (2 * 1024 * 1024), "data": 1}
    _refused(http.post(f"/v1/streams/{stream_name}/record", json=huge), "partition_key")
    for hash_key in ("9" * 5000, str(2**128), "\u0661\u0662"):
        response = http.post(
            f"/v1/streams/{stream_name}/record",
            json={"partition_key": "k", "data": 1, "explicit_hash_key": hash_key},
        )
        _refused(response, "explicit_hash_key")
    ok = http.post(
        f"/v1/streams/{stream_name}/record", json={"partition_key": "k" * 256, "data": 1}
    )
    assert ok.status_code == 200, ok.text
    assert _records(http, stream_name) == [ok.json()["sequence"]]


# -- the Kinesis API -------------------------------------------------------------------------


def _kinesis_stream(http: httpx.Client, name: str) -> None:
    made = _kinesis(http, "CreateStream", {"StreamName": name, "ShardCount": 1})
    assert made.status_code == 200, made.text


def test_kinesis_at_timestamp_out_of_range(http: httpx.Client, stream_name: str) -> None:
    _kinesis_stream(http, stream_name)
    base = {
        "StreamName": stream_name,
        "ShardId": "shardId-000000000000",
        "ShardIteratorType": "AT_TIMESTAMP",
    }
    for stamp in (1e12, 1e300, 10**30, -5, -0.5, 9.3e9):
        response = _kinesis(http, "GetShardIterator", {**base, "Timestamp": stamp})
        _kinesis_refused(response, "InvalidArgumentException", "Timestamp")
    fine = _kinesis(http, "GetShardIterator", {**base, "Timestamp": 7.2e9})  # in 2198
    assert fine.status_code == 200, fine.text


def test_kinesis_sequence_numbers_out_of_range(http: httpx.Client, stream_name: str) -> None:
    _kinesis_stream(http, stream_name)
    base = {
        "StreamName": stream_name,
        "ShardId": "shardId-000000000000",
        "ShardIteratorType": "AT_SEQUENCE_NUMBER",
    }
    far = _kinesis(http, "GetShardIterator", {**base, "StartingSequenceNumber": str(2**70)})
    _kinesis_refused(far, "InvalidArgumentException", "StartingSequenceNumber")
    long = _kinesis(http, "GetShardIterator", {**base, "StartingSequenceNumber": "9" * 5000})
    _kinesis_refused(long, "ValidationException", "startingSequenceNumber")


def test_kinesis_non_ascii_data_shard_ids_and_hash_keys(
    http: httpx.Client, stream_name: str
) -> None:
    _kinesis_stream(http, stream_name)
    put = {"StreamName": stream_name, "PartitionKey": "k"}
    bad_data = _kinesis(http, "PutRecord", {**put, "Data": "aGVsbG8\u0663"})
    _kinesis_refused(bad_data, "SerializationException", "Data")
    records = [{"PartitionKey": "k", "Data": "aGk="}, {"PartitionKey": "k", "Data": "\u00e9\u00e9"}]
    bad_batch = _kinesis(http, "PutRecords", {"StreamName": stream_name, "Records": records})
    _kinesis_refused(bad_batch, "SerializationException", "Data")
    arabic = _kinesis(http, "PutRecord", {**put, "Data": "aGk=", "ExplicitHashKey": "\u0661\u0662"})
    _kinesis_refused(arabic, "ValidationException", "'explicitHashKey'", "pattern")
    for shard in (f"shardId-{ARABIC_ZEROS}", "shardId-00000000000\u0661"):
        response = _kinesis(
            http,
            "GetShardIterator",
            {"StreamName": stream_name, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"},
        )
        _kinesis_refused(response, "ResourceNotFoundException", "Shard")
        listed = _kinesis(
            http, "ListShards", {"StreamName": stream_name, "ExclusiveStartShardId": shard}
        )
        _kinesis_refused(listed, "ResourceNotFoundException", "Shard")
    assert _records(http, stream_name) == []


def test_kinesis_partition_keys_over_256_characters(http: httpx.Client, stream_name: str) -> None:
    _kinesis_stream(http, stream_name)
    long_key = "\u00e9" * 257
    one = _kinesis(
        http, "PutRecord", {"StreamName": stream_name, "PartitionKey": long_key, "Data": "aGk="}
    )
    _kinesis_refused(one, "ValidationException", "partitionKey")
    records = [{"PartitionKey": "k", "Data": "aGk="}, {"PartitionKey": long_key, "Data": "aGk="}]
    batch = _kinesis(http, "PutRecords", {"StreamName": stream_name, "Records": records})
    _kinesis_refused(batch, "ValidationException", "records.2.member.partitionKey")
    assert _records(http, stream_name) == []


def test_an_iterator_signed_with_an_out_of_range_position(
    live: LiveServer, http: httpx.Client, stream_name: str
) -> None:
    # An iterator issued before positions had bounds: signed, but holding 2**70.
    http.post("/v1/streams", json={"name": stream_name})
    far = object.__new__(Position)
    object.__setattr__(far, "kind", PositionKind.AT_TIMESTAMP)
    object.__setattr__(far, "value", 2**70)
    state = IteratorState("default", stream_name, 0, far, time.time_ns() // 1_000_000)
    token = codec_for(live.app.state).encode(state)
    native = http.post(f"/v1/streams/{stream_name}/read", json={"iterator": token})
    _refused(native, "iterator")
    kinesis = _kinesis(http, "GetRecords", {"ShardIterator": token})
    _kinesis_refused(kinesis, "InvalidArgumentException", "iterator")
