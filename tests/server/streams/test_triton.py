"""Triton's behaviours (its test_stream.py / test_checkpoint.py) on Aion's compat layer."""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import msgpack
import pytest

from aion.client.streams import StreamRecord, StreamsClient
from aion.compat import triton
from aion.errors import ValidationError
from aion.streams.protocol import PositionKind
from tests.server.streams.conftest import LiveServer


@pytest.fixture
def client(live: LiveServer) -> Iterator[StreamsClient]:
    with StreamsClient(live.url) as c:
        yield c


@pytest.fixture
def stream(client: StreamsClient, stream_name: str) -> triton.Stream:
    s = triton.Stream(client, stream_name, "value", shards=4, client_name="tests")
    s.poll_wait_seconds = 0.2
    return s


def _sequence(record: triton.Record) -> int:
    """The native (per-shard) sequence number of a Triton record."""
    return triton.split_seq_num(record.seq_num)[1]


def _take(iterator: triton.CombinedStreamIterator, n: int) -> list[triton.Record]:
    out = []
    for record in iterator:  # Python 3 iteration works (Triton lacked __next__).
        out.append(record)
        if len(out) == n:
            break
    return out


# --- config ------------------------------------------------------------------------------


def test_load_config_and_get_stream(tmp_path: Path, live: LiveServer) -> None:
    path = tmp_path / "triton.yaml"
    path.write_text(
        "my_stream:\n  name: my_stream_v2\n  partition_key: value\n  region: us-west-1\n"
        f"other:\n  name: o\n  partition_key: k\n  url: {live.url}\n  shards: 2\n"
    )
    config = triton.load_config(path, default_url="http://example:1")
    assert config["my_stream"]["name"] == "my_stream_v2"
    assert config["my_stream"]["url"] == "http://example:1"
    assert config["other"]["url"] == live.url
    s = triton.get_stream("other", config)
    assert (s.name, s.partition_key, s.shards) == ("o", "k", 2)
    with pytest.raises(triton.StreamNotConfiguredError):
        triton.get_stream("missing", config)


@pytest.mark.parametrize("missing", ["name", "partition_key"])
def test_config_without_required_key(tmp_path: Path, missing: str) -> None:
    entry = {"name": "n", "partition_key": "k"}
    del entry[missing]
    path = tmp_path / "triton.yaml"
    path.write_text("s:\n" + "".join(f"  {k}: {v}\n" for k, v in entry.items()))
    with pytest.raises(triton.InvalidConfigurationError, match=missing):
        triton.load_config(path)
    with pytest.raises(triton.InvalidConfigurationError):
        triton.load_config(tmp_path / "nope.yaml")


# --- records and partition keys ----------------------------------------------------------


def test_record_decodes_ascii_and_unicode() -> None:
    for data in ({"value": "hi"}, {"value": "héllo ☃"}):
        raw = StreamRecord(0, 7, "k", 0, msgpack.packb(data))
        record = triton.Record.from_stored("shardId-000000000000", raw)
        assert record.data == data
        assert record.seq_num == "10000000000000000007"  # shard 0, sequence 7
        assert repr(record) == "<Record shardId-000000000000 10000000000000000007>"


def test_partition_key_variants(stream: triton.Stream) -> None:
    assert stream._partition_key({"value": "x"}) == "x"
    assert stream._partition_key({"value": 12}) == "12"
    with pytest.raises(KeyError) as exc:
        stream.put(other=1)
    assert exc.value.args == ("value",)


def test_shard_ids_and_selection(stream: triton.Stream) -> None:
    assert stream.shard_ids == [f"shardId-{i:012d}" for i in range(4)]
    assert stream._select_shard_ids([1, 3]) == ["shardId-000000000001", "shardId-000000000003"]
    assert stream._select_shard_ids([]) == stream.shard_ids  # none given: every shard
    with pytest.raises(triton.ShardNotFoundError):
        stream._select_shard_ids([4])
    with pytest.raises(triton.ShardNotFoundError):
        stream.build_iterator_from_latest([9])


# --- puts --------------------------------------------------------------------------------


def test_put_and_read_all(stream: triton.Stream) -> None:
    placed = [stream.put(value=f"v{i}", n=i) for i in range(8)]
    assert all(shard.startswith("shardId-") and seq.isdigit() for shard, seq in placed)
    got = _take(stream.build_iterator_for_all(), 8)
    assert sorted(r.data["n"] for r in got) == list(range(8))
    assert {(r.shard_id, r.seq_num) for r in got} == set(placed)


def test_put_hard_to_encode_data(stream: triton.Stream) -> None:
    class Point:
        coords = (1.5, 2.5)

    stream.put(
        value="x",
        amount=Decimal("1.10"),
        at=dt.datetime(2015, 6, 10, 12, 30, 1),
        day=dt.date(2015, 6, 10),
        where=Point(),
        other={1, 2},
    )
    [record] = _take(stream.build_iterator_for_all(), 1)
    assert record.data["amount"] == "1.10"
    assert record.data["at"] == "2015-06-10 12:30:01"
    assert record.data["day"] == "2015-06-10"
    assert record.data["where"] == "(1.5, 2.5)"
    assert record.data["other"] == repr({1, 2})


def _mock_stream(handler: Callable[[httpx.Request], httpx.Response]) -> triton.Stream:
    client = StreamsClient("http://aion", transport=httpx.MockTransport(handler))
    s = triton.Stream(client, "s", "value")
    s.retry_base_seconds = 0
    return s


def _ok(request: httpx.Request) -> httpx.Response:
    import json

    records = json.loads(request.content)["records"]
    return httpx.Response(
        200,
        json={
            "records": [
                {"shard": 0, "shard_id": "shardId-000000000000", "sequence": str(i + 1)}
                for i in range(len(records))
            ]
        },
    )


def test_put_retries_5xx_and_raises_4xx() -> None:
    calls: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return _ok(request) if len(calls) == 3 else httpx.Response(503, json={})

    placed = ("shardId-000000000000", triton.seq_num_for(0, 1))
    assert _mock_stream(flaky).put(value="x") == placed
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(triton.KinesisError):
        _mock_stream(lambda r: (calls.append(1), httpx.Response(500, json={}))[1]).put(value="x")
    assert len(calls) == 3
    calls.clear()
    refused = {"error": {"type": "ValidationError", "message": "no", "field": "x"}}
    # Refused input is not retried, and is raised as Triton's KinesisError, as Triton did.
    with pytest.raises(triton.KinesisError) as exc:
        _mock_stream(lambda r: (calls.append(1), httpx.Response(400, json=refused))[1]).put(
            value="x"
        )
    assert isinstance(exc.value.__cause__, ValidationError)
    assert len(calls) == 1


def test_put_many_chunks_of_500() -> None:
    sizes: list[int] = []

    def count(request: httpx.Request) -> httpx.Response:
        import json

        sizes.append(len(json.loads(request.content)["records"]))
        return _ok(request)

    out = _mock_stream(count).put_many([{"value": i} for i in range(1201)])
    assert sizes == [500, 500, 201]
    assert len(out) == 1201


def test_put_many_retries_failed_then_raises() -> None:
    state = {"n": 0}

    def second_chunk_fails_once(request: httpx.Request) -> httpx.Response:
        state["n"] += 1
        return httpx.Response(503, json={}) if state["n"] == 2 else _ok(request)

    out = _mock_stream(second_chunk_fails_once).put_many([{"value": i} for i in range(600)])
    assert len(out) == 600
    assert state["n"] == 3
    with pytest.raises(triton.KinesisPutManyError) as exc:
        _mock_stream(lambda r: httpx.Response(503, json={})).put_many([{"value": 1}, {"value": 2}])
    assert exc.value.failed_data == [{"value": 1}, {"value": 2}]


def test_put_many_live(stream: triton.Stream) -> None:
    out = stream.put_many([{"value": f"k{i}", "i": i} for i in range(700)])
    assert len(out) == 700
    assert len(_take(stream.build_iterator_for_all(), 700)) == 700


# --- iterators ---------------------------------------------------------------------------


def test_latest_sees_only_new_records(stream: triton.Stream) -> None:
    stream.put(value="old")
    iterator = stream.build_iterator_from_latest()
    iterator.stop()
    assert list(iterator) == []  # stopped before any fetch: nothing, and it ends
    iterator = stream.build_iterator_from_latest()
    # The first read is lazy, so "latest" is pinned by a first pass over the shards.
    for it in iterator.iterators:
        it.fill()
    stream.put(value="new")
    [record] = _take(iterator, 1)
    assert record.data == {"value": "new"}


def test_from_seqnum_is_exclusive(stream: triton.Stream) -> None:
    shard, first = stream.put(value="same")
    stream.put(value="same", n=2)
    stream.put(value="same", n=3)
    got = _take(stream.build_iterator_from_seqnum(shard, first), 2)
    assert [r.data["n"] for r in got] == [2, 3]
    with pytest.raises(triton.ShardNotFoundError):
        stream.build_iterator_from_seqnum("shardId-000000000042", "1")


def test_round_robin_does_not_starve_shards(stream: triton.Stream) -> None:
    keys = {}
    i = 0
    while len(keys) < 4:
        shard, _ = stream.put(value=f"k{i}", first=True)
        keys.setdefault(shard, f"k{i}")
        i += 1
    busy = keys["shardId-000000000000"]
    stream.put_many([{"value": busy} for _ in range(50)])
    stream.read_limit = 5
    # One batch of the busy shard, then the other shards' records, before its next batch.
    order = [r.shard_id for r in _take(stream.build_iterator_for_all(), 40)]
    first_batch = order.index("shardId-000000000000") + 5
    assert set(order[: first_batch + 3]) == set(stream.shard_ids)


def test_stop_drains_fetched_records(stream: triton.Stream) -> None:
    stream.put_many([{"value": "one-key", "n": n} for n in range(5)])
    iterator = stream.build_iterator_for_all()
    first = next(iterator)
    iterator.stop()
    rest = list(iterator)
    assert [r.data["n"] for r in [first, *rest]] == list(range(5))


def test_long_poll_wakes_on_put(stream: triton.Stream) -> None:
    iterator = stream.build_iterator_from_latest([0])
    stream.poll_wait_seconds = 5
    iterator.poll_wait = 5
    iterator.iterators[0].fill()

    def put_soon() -> None:
        time.sleep(0.3)
        for i in range(100):
            shard, _ = stream.put(value=f"p{i}")
            if shard == "shardId-000000000000":
                return

    thread = threading.Thread(target=put_soon)
    started = time.monotonic()
    thread.start()
    record = next(iterator)
    thread.join()
    assert record.shard_id == "shardId-000000000000"
    assert time.monotonic() - started < 4


# --- checkpoints -------------------------------------------------------------------------


def test_checkpoint_and_resume(stream: triton.Stream, client: StreamsClient) -> None:
    stream.put_many([{"value": "ck", "n": n} for n in range(6)])
    fresh = _take(stream.build_iterator_from_checkpoint(), 6)  # no checkpoint: TRIM_HORIZON
    assert [r.data["n"] for r in fresh] == list(range(6))
    iterator = stream.build_iterator_from_checkpoint()
    done = _take(iterator, 4)
    iterator.checkpoint()
    shard = stream.shard_ids.index(done[-1].shard_id)
    assert client.get_checkpoints(stream.name, "tests") == {shard: _sequence(done[-1])}
    resumed = _take(stream.build_iterator_from_checkpoint(), 2)
    assert [r.data["n"] for r in resumed] == [4, 5]
    # Checkpointing again without new records keeps the position.
    iterator.checkpoint()
    assert client.get_checkpoints(stream.name, "tests") == {shard: _sequence(done[-1])}


def test_checkpoint_needs_a_client_name(client: StreamsClient, stream_name: str) -> None:
    s = triton.Stream(client, stream_name, "value", shards=1)
    with pytest.raises(triton.TritonCheckpointError):
        s.build_iterator_from_checkpoint()
    assert isinstance(
        s.build_iterator_from_checkpoint(client_name="g"), triton.CombinedStreamIterator
    )


def test_iterator_keeps_next_alias(stream: triton.Stream) -> None:
    stream.put(value="x")
    assert stream.build_iterator_for_all().next().data == {"value": "x"}


def test_group_workers_share_the_shards(stream: triton.Stream) -> None:
    seen: dict[str, list[int]] = {"a": [], "b": []}
    workers = {
        name: stream.group_worker(
            lambda r, name=name: seen[name].append(r.data["n"]),  # type: ignore[misc]
            worker=name,
            client_name="billing",
            lease_seconds=1.5,
        )
        for name in seen
    }
    threads = [threading.Thread(target=w.run) for w in workers.values()]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 10
        while not all(len(w.shards) == 2 for w in workers.values()):
            assert time.monotonic() < deadline, [w.shards for w in workers.values()]
            time.sleep(0.05)
        stream.put_many([{"value": f"k{i}", "n": i} for i in range(40)])
        while sorted(seen["a"] + seen["b"]) != list(range(40)):
            assert time.monotonic() < deadline + 10, seen
            time.sleep(0.05)
    finally:
        for w in workers.values():
            w.stop()
        for t in threads:
            t.join(10)
    assert seen["a"] and seen["b"]  # both worked: the shards were shared


def test_group_worker_needs_a_client_name(stream: triton.Stream) -> None:
    stream.client_name = None
    with pytest.raises(triton.TritonCheckpointError):
        stream.group_worker(lambda r: None)


# --- Triton's README as written (issue 11) -----------------------------------------------


def test_from_latest_with_no_shard_numbers_reads_every_shard(stream: triton.Stream) -> None:
    iterator = stream.build_iterator_from_latest([])
    assert [it.shard_id for it in iterator.iterators] == stream.shard_ids
    for it in iterator.iterators:
        it.fill()  # pin LATEST
    placed = {stream.put(value=f"k{i}", n=i)[0] for i in range(12)}
    assert len(placed) > 1
    assert sorted(r.data["n"] for r in _take(iterator, 12)) == list(range(12))


def test_from_seqnum_takes_a_shard_number_or_id(stream: triton.Stream) -> None:
    shard_id, first = stream.put(value="same", n=1)
    stream.put(value="same", n=2)
    number = stream.shard_ids.index(shard_id)
    for shard in (number, shard_id):
        got = _take(stream.build_iterator_from_seqnum(shard, first), 1)
        assert [r.data["n"] for r in got] == [2]
    # A plain per-shard sequence number (the native API's) works too.
    plain = str(triton.split_seq_num(first)[1])
    assert _take(stream.build_iterator_from_seqnum(number, plain), 1)[0].data["n"] == 2
    with pytest.raises(triton.ShardNotFoundError):
        stream.build_iterator_from_seqnum(len(stream.shard_ids), first)


def test_sequence_number_of_another_shard_is_refused(stream: triton.Stream) -> None:
    shard_id, seq = stream.put(value="x")
    other = (stream.shard_ids.index(shard_id) + 1) % len(stream.shard_ids)
    with pytest.raises(ValidationError, match=f"belongs to shard .*not to shard {other}") as exc:
        stream.build_iterator_from_seqnum(other, seq)
    assert exc.value.field == "seq_num"
    with pytest.raises(ValidationError):
        stream.build_iterator_from_seqnum(0, "12ab")


def test_stream_iterator_is_iterable(stream: triton.Stream) -> None:
    stream.put_many([{"value": "one", "n": n} for n in range(3)])
    shard_id = stream.put(value="one", n=3)[0]
    shard = triton.StreamIterator(stream, shard_id, PositionKind.TRIM_HORIZON)
    assert [r.data["n"] for r in shard] == [0, 1, 2, 3]
    assert list(shard) == []  # one read per pass, as Triton's; nothing new since


def test_record_from_raw_record() -> None:
    packed = msgpack.packb({"value": "hi mom"})
    for data in (base64.b64encode(packed).decode(), packed):
        raw = {"SequenceNumber": "4955147931599822522", "Data": data, "PartitionKey": "k"}
        record = triton.Record.from_raw_record("shardId-000000000001", raw)
        assert (record.shard_id, record.seq_num) == ("shardId-000000000001", raw["SequenceNumber"])
        assert record.data == {"value": "hi mom"}


def test_put_errors_are_kinesis_errors(stream: triton.Stream) -> None:
    with pytest.raises(triton.KinesisError) as exc:
        stream.put(value="k", blob=b"x" * (1 << 20))  # over 1 MiB
    assert isinstance(exc.value.__cause__, ValidationError)
    with pytest.raises(triton.KinesisError):
        stream.put_many([{"value": "k", "blob": b"x" * (1 << 20)}])


def test_first_put_creates_the_stream(client: StreamsClient, stream_name: str) -> None:
    s = triton.Stream(client, stream_name, "value")
    shard_id, _ = s.put(value="x")
    assert shard_id in s.shard_ids and len(s.shard_ids) == 4
