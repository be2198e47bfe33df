"""Group membership over the native API: join / heartbeat / leave share shards fairly."""

from __future__ import annotations

import pytest

from aion.client.streams import AsyncStreamsClient, StreamsClient
from aion.errors import ValidationError
from aion.streams.protocol import StreamNotFound
from tests.server.streams.conftest import LiveServer


def test_workers_split_shards_and_take_them_back_on_leave(
    live: LiveServer, stream_name: str
) -> None:
    with StreamsClient(live.url) as streams:
        streams.create_stream(stream_name, shards=4)
        first = streams.join_group(stream_name, "g", "a", lease_seconds=30)
        assert first.shards == [0, 1, 2, 3]  # alone: every shard
        assert first.heartbeat_seconds == 10 and first.lease_seconds == 30
        assert {lease.owner for lease in first.leases} == {"a"}
        second = streams.join_group(stream_name, "g", "b", lease_seconds=30)
        # Nothing free: "b" claims one from the busiest worker, which still owns it.
        assert second.shards == []
        leases, _ = streams.get_leases(stream_name, "g")
        assert [lease.claimant for lease in leases].count("b") == 1
        after = streams.heartbeat(stream_name, "g", "a", lease_seconds=30)
        assert len(after.shards) == 2  # "a" handed the claimed one over, and one more (share 2)
        second = streams.heartbeat(stream_name, "g", "b", lease_seconds=30)
        assert sorted(after.shards + second.shards) == [0, 1, 2, 3]
        # Heartbeats are stable once balanced.
        assert streams.heartbeat(stream_name, "g", "a", 30).shards == after.shards
        assert streams.leave_group(stream_name, "g", "b") == second.shards
        assert streams.heartbeat(stream_name, "g", "a", 30).shards == [0, 1, 2, 3]
        leases, _ = streams.get_leases(stream_name, "g")
        assert {lease.owner for lease in leases} == {"a"}


def test_membership_refusals(live: LiveServer, stream_name: str) -> None:
    with StreamsClient(live.url) as streams:
        streams.create_stream(stream_name, shards=1)
        with pytest.raises(ValidationError) as bad:
            streams.join_group(stream_name, "g", "a", lease_seconds=0)
        assert bad.value.field == "lease_seconds"
        with pytest.raises(StreamNotFound):
            streams.heartbeat("no-such-stream", "g", "a")
        assert streams.leave_group(stream_name, "g", "nobody") == []


async def test_async_client_membership(live: LiveServer, stream_name: str) -> None:
    async with AsyncStreamsClient(live.url) as streams:
        await streams.create_stream(stream_name, shards=2)
        joined = await streams.join_group(stream_name, "g", "worker 1:x")
        assert joined.shards == [0, 1]
        assert (await streams.heartbeat(stream_name, "g", "worker 1:x")).shards == [0, 1]
        assert await streams.leave_group(stream_name, "g", "worker 1:x") == [0, 1]
