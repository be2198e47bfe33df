"""The Kinesis-compatible API through the real boto3 client against a live server."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from aion.core.sharding import HASH_KEY_SPACE, hash_key_ranges, shard_for_key
from aion.server.streams.iterators import IteratorState, codec_for
from aion.server.streams.kinesis_shapes import TARGET_PREFIX
from aion.streams.protocol import Position
from tests.server.streams.conftest import LiveServer

pytestmark = pytest.mark.filterwarnings(
    # botocore warns about its own datetime.utcnow() use on some Python versions.
    "ignore:datetime.datetime.utcnow:DeprecationWarning"
)


@pytest.fixture
def kinesis(live: LiveServer) -> Iterator[Any]:
    """A boto3 Kinesis client pointed at the live server, without retries."""
    client = boto3.client(
        "kinesis",
        endpoint_url=live.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    yield client
    client.close()


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _iterator(kinesis: Any, stream: str, shard: str = "shardId-000000000000", **kw: Any) -> str:
    kw.setdefault("ShardIteratorType", "TRIM_HORIZON")
    out = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, **kw)
    return str(out["ShardIterator"])


def test_create_describe_and_summary(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=3)
    desc = kinesis.describe_stream(StreamName=stream_name)["StreamDescription"]
    assert desc["StreamName"] == stream_name
    assert desc["StreamStatus"] == "ACTIVE"
    assert desc["StreamARN"] == f"arn:aws:kinesis:us-east-1:000000000000:stream/{stream_name}"
    assert desc["HasMoreShards"] is False
    assert desc["RetentionPeriodHours"] == 24
    ranges = hash_key_ranges(3)
    assert [s["ShardId"] for s in desc["Shards"]] == [f"shardId-00000000000{i}" for i in range(3)]
    for shard, r in zip(desc["Shards"], ranges, strict=True):
        assert shard["HashKeyRange"] == {
            "StartingHashKey": str(r.starting),
            "EndingHashKey": str(r.ending),
        }
        assert "StartingSequenceNumber" in shard["SequenceNumberRange"]
    assert desc["Shards"][-1]["HashKeyRange"]["EndingHashKey"] == str(HASH_KEY_SPACE - 1)
    summary = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3
    assert summary["StreamName"] == stream_name


def test_describe_pages_shards(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=5)
    first = kinesis.describe_stream(StreamName=stream_name, Limit=2)["StreamDescription"]
    assert [s["ShardId"][-1] for s in first["Shards"]] == ["0", "1"]
    assert first["HasMoreShards"] is True
    rest = kinesis.describe_stream(
        StreamName=stream_name, Limit=10, ExclusiveStartShardId=first["Shards"][-1]["ShardId"]
    )["StreamDescription"]
    assert [s["ShardId"][-1] for s in rest["Shards"]] == ["2", "3", "4"]
    assert rest["HasMoreShards"] is False


def test_create_twice_is_resource_in_use(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    with pytest.raises(ClientError) as exc:
        kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    assert _code(exc) == "ResourceInUseException"


def test_list_streams_and_delete(kinesis: Any, stream_name: str) -> None:
    names = [f"{stream_name}-{i}" for i in range(3)]
    for name in names:
        kinesis.create_stream(StreamName=name, ShardCount=1)
    listed = kinesis.list_streams()
    assert set(names) <= set(listed["StreamNames"])
    assert {s["StreamName"] for s in listed["StreamSummaries"]} >= set(names)
    page = kinesis.list_streams(Limit=1, ExclusiveStartStreamName=names[0])
    assert page["StreamNames"] == [names[1]]
    assert page["HasMoreStreams"] is True
    kinesis.delete_stream(StreamName=names[1])
    assert names[1] not in kinesis.list_streams()["StreamNames"]
    with pytest.raises(ClientError) as exc:
        kinesis.describe_stream(StreamName=names[1])
    assert _code(exc) == "ResourceNotFoundException"


def test_list_shards_with_paging(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=3)
    first = kinesis.list_shards(StreamName=stream_name, MaxResults=2)
    assert [s["ShardId"] for s in first["Shards"]] == [
        "shardId-000000000000",
        "shardId-000000000001",
    ]
    rest = kinesis.list_shards(NextToken=first["NextToken"])
    assert [s["ShardId"] for s in rest["Shards"]] == ["shardId-000000000002"]
    assert "NextToken" not in rest
    after = kinesis.list_shards(
        StreamName=stream_name,
        ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000000"},
    )
    assert len(after["Shards"]) == 2
    with pytest.raises(ClientError) as exc:
        kinesis.list_shards(StreamName=stream_name, NextToken=first["NextToken"])
    assert _code(exc) == "InvalidArgumentException"


def test_put_record_routes_by_md5_and_reads_back(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=4)
    placed = {}
    for key in ["alpha", "beta", "gamma", "delta", "epsilon"]:
        out = kinesis.put_record(StreamName=stream_name, Data=key.encode(), PartitionKey=key)
        assert out["ShardId"] == f"shardId-{shard_for_key(key, 4):012d}"
        assert out["SequenceNumber"].isdigit()
        placed[key] = out
    for key, out in placed.items():
        it = _iterator(
            kinesis,
            stream_name,
            out["ShardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=out["SequenceNumber"],
        )
        got = kinesis.get_records(ShardIterator=it, Limit=1)
        [record] = got["Records"]
        assert record["Data"] == key.encode()
        assert record["PartitionKey"] == key
        assert record["SequenceNumber"] == out["SequenceNumber"]
        assert isinstance(record["ApproximateArrivalTimestamp"], datetime)


def test_explicit_hash_key_overrides_partition_key(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=4)
    last = hash_key_ranges(4)[3]
    out = kinesis.put_record(
        StreamName=stream_name, Data=b"x", PartitionKey="alpha", ExplicitHashKey=str(last.starting)
    )
    assert out["ShardId"] == "shardId-000000000003"
    batch = kinesis.put_records(
        StreamName=stream_name,
        Records=[{"Data": b"y", "PartitionKey": "alpha", "ExplicitHashKey": "0"}],
    )
    assert batch["Records"][0]["ShardId"] == "shardId-000000000000"
    with pytest.raises(ClientError) as exc:
        kinesis.put_record(
            StreamName=stream_name, Data=b"x", PartitionKey="a", ExplicitHashKey=str(HASH_KEY_SPACE)
        )
    assert _code(exc) == "InvalidArgumentException"


def test_put_records_then_read_in_order(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=2)
    records = [{"Data": f"r{i}".encode(), "PartitionKey": f"k{i % 3}"} for i in range(30)]
    out = kinesis.put_records(StreamName=stream_name, Records=records)
    assert out["FailedRecordCount"] == 0
    assert len(out["Records"]) == 30
    seen: dict[str, list[bytes]] = {}
    for shard in ("shardId-000000000000", "shardId-000000000001"):
        got = kinesis.get_records(ShardIterator=_iterator(kinesis, stream_name, shard))
        seen[shard] = [r["Data"] for r in got["Records"]]
        seqs = [int(r["SequenceNumber"]) for r in got["Records"]]
        assert seqs == sorted(seqs)
        assert got["MillisBehindLatest"] >= 0
        assert got["NextShardIterator"]
    expected: dict[str, list[bytes]] = {}
    for rec, result in zip(records, out["Records"], strict=True):
        expected.setdefault(result["ShardId"], []).append(rec["Data"])
    assert {k: v for k, v in seen.items() if v} == expected


def test_iterator_types(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    first = [kinesis.put_record(StreamName=stream_name, Data=b"a", PartitionKey="k")]
    latest = _iterator(kinesis, stream_name, ShardIteratorType="LATEST")
    time.sleep(0.01)
    middle = datetime.now(UTC)
    time.sleep(0.01)
    later = [
        kinesis.put_record(StreamName=stream_name, Data=d, PartitionKey="k") for d in (b"b", b"c")
    ]
    got = kinesis.get_records(ShardIterator=latest)
    assert [r["Data"] for r in got["Records"]] == [b"b", b"c"]
    # Chaining: the next iterator sees only newer records.
    assert kinesis.get_records(ShardIterator=got["NextShardIterator"])["Records"] == []
    kinesis.put_record(StreamName=stream_name, Data=b"d", PartitionKey="k")
    again = kinesis.get_records(ShardIterator=got["NextShardIterator"])
    assert [r["Data"] for r in again["Records"]] == [b"d"]
    horizon = kinesis.get_records(ShardIterator=_iterator(kinesis, stream_name))
    assert [r["Data"] for r in horizon["Records"]] == [b"a", b"b", b"c", b"d"]
    after = _iterator(
        kinesis,
        stream_name,
        ShardIteratorType="AFTER_SEQUENCE_NUMBER",
        StartingSequenceNumber=first[0]["SequenceNumber"],
    )
    assert next(r["Data"] for r in kinesis.get_records(ShardIterator=after)["Records"]) == b"b"
    at = _iterator(
        kinesis,
        stream_name,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=later[1]["SequenceNumber"],
    )
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=at)["Records"]] == [b"c", b"d"]
    stamp = _iterator(kinesis, stream_name, ShardIteratorType="AT_TIMESTAMP", Timestamp=middle)
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=stamp)["Records"]] == [
        b"b",
        b"c",
        b"d",
    ]
    future = _iterator(
        kinesis,
        stream_name,
        ShardIteratorType="AT_TIMESTAMP",
        Timestamp=middle + timedelta(days=1),
    )
    assert kinesis.get_records(ShardIterator=future)["Records"] == []


def test_get_records_limit_pages(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    kinesis.put_records(
        StreamName=stream_name,
        Records=[{"Data": bytes([i]), "PartitionKey": "k"} for i in range(5)],
    )
    it = _iterator(kinesis, stream_name)
    out: list[bytes] = []
    for _ in range(3):
        got = kinesis.get_records(ShardIterator=it, Limit=2)
        out.extend(r["Data"] for r in got["Records"])
        it = got["NextShardIterator"]
    assert out == [bytes([i]) for i in range(5)]


def test_binary_data_round_trips(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    blob = bytes(range(256)) * 4
    kinesis.put_record(StreamName=stream_name, Data=blob, PartitionKey="bin")
    got = kinesis.get_records(ShardIterator=_iterator(kinesis, stream_name))
    assert got["Records"][0]["Data"] == blob


# --- errors ---------------------------------------------------------------------------------


def test_unknown_stream_everywhere(kinesis: Any) -> None:
    calls = [
        lambda: kinesis.describe_stream(StreamName="nope"),
        lambda: kinesis.describe_stream_summary(StreamName="nope"),
        lambda: kinesis.list_shards(StreamName="nope"),
        lambda: kinesis.delete_stream(StreamName="nope"),
        lambda: kinesis.put_record(StreamName="nope", Data=b"x", PartitionKey="k"),
        lambda: kinesis.put_records(
            StreamName="nope", Records=[{"Data": b"x", "PartitionKey": "k"}]
        ),
        lambda: _iterator(kinesis, "nope"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        assert _code(exc) == "ResourceNotFoundException"
        assert "nope" in exc.value.response["Error"]["Message"]


def test_unknown_shard(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=2)
    for shard in ("shardId-000000000002", "shard-0"):
        with pytest.raises(ClientError) as exc:
            _iterator(kinesis, stream_name, shard)
        assert _code(exc) == "ResourceNotFoundException"


def test_sequence_past_the_end(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    out = kinesis.put_record(StreamName=stream_name, Data=b"x", PartitionKey="k")
    for kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        with pytest.raises(ClientError) as exc:
            _iterator(
                kinesis,
                stream_name,
                ShardIteratorType=kind,
                StartingSequenceNumber=str(int(out["SequenceNumber"]) + 1000),
            )
        assert _code(exc) == "InvalidArgumentException"
    with pytest.raises(ClientError) as exc:
        _iterator(kinesis, stream_name, ShardIteratorType="AT_SEQUENCE_NUMBER")
    assert _code(exc) == "InvalidArgumentException"


async def test_sequence_already_trimmed(live: LiveServer, kinesis: Any, stream_name: str) -> None:
    log = live.app.state.stream_log
    namespace = live.app.state.config.default_namespace
    await log.create_stream(namespace, stream_name, 1, retention_seconds=1)
    out = kinesis.put_record(StreamName=stream_name, Data=b"old", PartitionKey="k")
    time.sleep(1.1)
    await log.trim(namespace, stream_name)
    kinesis.put_record(StreamName=stream_name, Data=b"new", PartitionKey="k")
    with pytest.raises(ClientError) as exc:
        _iterator(
            kinesis,
            stream_name,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=out["SequenceNumber"],
        )
    assert _code(exc) == "InvalidArgumentException"
    assert "trimmed" in exc.value.response["Error"]["Message"]
    horizon = kinesis.get_records(ShardIterator=_iterator(kinesis, stream_name))
    assert [r["Data"] for r in horizon["Records"]] == [b"new"]


def test_record_over_one_mebibyte(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    big = b"x" * (1024 * 1024)
    with pytest.raises(ClientError) as exc:
        kinesis.put_record(StreamName=stream_name, Data=big, PartitionKey="k")
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        kinesis.put_records(StreamName=stream_name, Records=[{"Data": big, "PartitionKey": "k"}])
    assert _code(exc) == "ValidationException"
    # Exactly 1 MiB with the key is accepted.
    kinesis.put_record(StreamName=stream_name, Data=big[:-1], PartitionKey="k")


def test_missing_partition_key(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    with pytest.raises(ClientError) as exc:
        kinesis.put_record(StreamName=stream_name, Data=b"x")
    assert _code(exc) == "ValidationException"
    assert "partitionKey" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        kinesis.put_records(StreamName=stream_name, Records=[{"Data": b"x"}])
    assert _code(exc) == "ValidationException"
    # Nothing was stored by the refused batch.
    assert kinesis.get_records(ShardIterator=_iterator(kinesis, stream_name))["Records"] == []


def test_expired_iterator(live: LiveServer, kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    codec = codec_for(live.app.state)
    old_ms = int(time.time() * 1000) - 301_000
    state = IteratorState("default", stream_name, 0, Position.after_sequence(0), old_ms)
    with pytest.raises(ClientError) as exc:
        kinesis.get_records(ShardIterator=codec.encode(state))
    assert _code(exc) == "ExpiredIteratorException"
    fresh = IteratorState("default", stream_name, 0, Position.after_sequence(0), old_ms + 2000)
    assert kinesis.get_records(ShardIterator=codec.encode(fresh))["Records"] == []


def test_tampered_iterator_is_invalid_argument(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    it = _iterator(kinesis, stream_name)
    _payload, signature = it.split(".")
    forged = base64.urlsafe_b64encode(b'[1,"default","other",0,0,0,0]').decode().rstrip("=")
    altered = it[:-1] + ("A" if it[-1] != "A" else "B")  # always differs from the original
    for bad in (f"{forged}.{signature}", "garbage", altered):
        with pytest.raises(ClientError) as exc:
            kinesis.get_records(ShardIterator=bad)
        assert _code(exc) == "InvalidArgumentException"


def test_iterator_after_delete_is_not_found(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    it = _iterator(kinesis, stream_name)
    kinesis.delete_stream(StreamName=stream_name)
    with pytest.raises(ClientError) as exc:
        kinesis.get_records(ShardIterator=it)
    assert _code(exc) == "ResourceNotFoundException"


def test_invalid_arguments(kinesis: Any, stream_name: str) -> None:
    kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    with pytest.raises(ClientError) as exc:
        _iterator(kinesis, stream_name, ShardIteratorType="AT_TIMESTAMP")
    assert _code(exc) == "InvalidArgumentException"
    with pytest.raises(ClientError) as exc:
        kinesis.describe_stream(StreamARN="arn:aws:s3:::bucket")
    assert _code(exc) in {"InvalidArgumentException", "ParamValidationError"}


def test_raw_protocol_errors(live: LiveServer) -> None:
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    with httpx.Client(base_url=live.url) as http:
        unknown = http.post(
            "/", headers={**headers, "X-Amz-Target": TARGET_PREFIX + "MergeShards"}, content=b"{}"
        )
        assert unknown.status_code == 400
        assert unknown.json()["__type"] == "UnknownOperationException"
        assert unknown.headers["content-type"] == "application/x-amz-json-1.1"
        broken = http.post(
            "/", headers={**headers, "X-Amz-Target": TARGET_PREFIX + "ListStreams"}, content=b"{"
        )
        assert broken.json()["__type"] == "SerializationException"
        no_name = http.post(
            "/", headers={**headers, "X-Amz-Target": TARGET_PREFIX + "CreateStream"}, content=b"{}"
        )
        assert no_name.json()["__type"] == "ValidationException"
        by_arn = http.post(
            "/",
            headers={**headers, "X-Amz-Target": TARGET_PREFIX + "DescribeStreamSummary"},
            json={"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/missing"},
        )
        assert by_arn.json()["__type"] == "ResourceNotFoundException"
