"""The native streams client (sync and async) against a live server."""

from __future__ import annotations

import httpx
import pytest

from aion.client.streams import AsyncStreamsClient, OutgoingRecord, StreamsClient
from aion.core.sharding import shard_for_key
from aion.errors import RequestError, ResponseError, ValidationError
from aion.streams.protocol import SequencePastEnd, ShardNotFound, StreamNotFound
from tests.server.streams.conftest import LiveServer


def test_sync_round_trip(live: LiveServer, stream_name: str) -> None:
    with StreamsClient(live.url) as client:
        info = client.create_stream(stream_name, shards=2, retention_seconds=60)
        assert [s.shard_id for s in info.shards] == ["shardId-000000000000", "shardId-000000000001"]
        assert client.describe_stream(stream_name) == info
        assert stream_name in client.list_streams()
        one = client.put(stream_name, "k1", b"\x00one")
        assert one.shard == shard_for_key("k1", 2)
        many = client.put_many(stream_name, [("k1", b"two"), OutgoingRecord("k1", b"three")])
        assert [p.sequence for p in many] == [one.sequence + 1, one.sequence + 2]
        it = client.iterator(stream_name, one.shard, "TRIM_HORIZON")
        batch = client.read(stream_name, it, limit=2)
        assert [r.data for r in batch.records] == [b"\x00one", b"two"]
        rest = client.read(stream_name, batch.next_iterator, wait=0.1)
        assert [r.data for r in rest.records] == [b"three"]
        after = client.iterator(stream_name, one.shard_id, "AFTER_SEQUENCE_NUMBER", one.sequence)
        assert len(client.read(stream_name, after).records) == 2
        assert client.set_checkpoint(stream_name, "g", one.shard, 3, expected=0)
        assert not client.set_checkpoint(stream_name, "g", one.shard, 2, expected=0)
        assert client.get_checkpoints(stream_name, "g") == {one.shard: 3}
        lease = client.set_lease(stream_name, "g", 0, "w1", 0, ttl_seconds=5)
        assert lease is not None and lease.version == 1
        assert client.set_lease(stream_name, "g", 0, "w2", 0) is None
        leases, now = client.get_leases(stream_name, "g")
        assert leases == [lease] and now < lease.expires_at
        client.delete_stream(stream_name)
        assert stream_name not in client.list_streams()


def test_sync_errors(live: LiveServer, stream_name: str) -> None:
    with StreamsClient(live.url) as client:
        with pytest.raises(StreamNotFound):
            client.describe_stream("nope")
        client.create_stream(stream_name)
        with pytest.raises(ShardNotFound):
            client.iterator(stream_name, 3)
        with pytest.raises(SequencePastEnd):
            client.iterator(stream_name, 0, "AT_SEQUENCE_NUMBER", 99)
        with pytest.raises(ValidationError) as exc:
            client.put(stream_name, "", b"x")
        assert exc.value.field == "records[0].partition_key"
        with pytest.raises(ValidationError) as exc:
            client.put(stream_name, "k", b"x" * (1 << 20))
        assert exc.value.field == "records[0].data"
    with StreamsClient("http://127.0.0.1:9", timeout=2) as dead, pytest.raises(RequestError):
        dead.list_streams()


def test_non_aion_error_is_response_error() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(502, text="bad gateway"))
    with (
        StreamsClient("http://aion", transport=transport) as client,
        pytest.raises(ResponseError) as exc,
    ):
        client.list_streams()
    assert exc.value.status == 502


async def test_async_round_trip(live: LiveServer, stream_name: str) -> None:
    async with AsyncStreamsClient(live.url, namespace="async-ns") as client:
        await client.create_stream(stream_name)
        assert (
            await client.list_streams() == [stream_name]
            or stream_name in await client.list_streams()
        )
        placed = await client.put(stream_name, "k", b"hello")
        it = await client.iterator(stream_name, 0, "AT_SEQUENCE_NUMBER", placed.sequence)
        batch = await client.read(stream_name, it)
        assert [r.data for r in batch.records] == [b"hello"]
        assert await client.set_checkpoint(stream_name, "g", 0, placed.sequence)
        assert await client.get_checkpoints(stream_name, "g") == {0: placed.sequence}
        assert await client.set_lease(stream_name, "g", 0, "me", 0) is not None
        assert len((await client.get_leases(stream_name, "g"))[0]) == 1
        assert (await client.describe_stream(stream_name)).namespace == "async-ns"
        await client.put_many(stream_name, [("k", b"x")])
        await client.delete_stream(stream_name)
        with pytest.raises(StreamNotFound):
            await client.describe_stream(stream_name)
