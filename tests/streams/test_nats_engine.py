"""The NATS engine's connection and reads: a URL listing several servers (a cluster), and read
consumers that are reused rather than made per read (their count stays bounded)."""

from __future__ import annotations

import socket

import pytest

from aion.errors import ConfigurationError
from aion.streams.backends.nats import CURSORS_PER_SHARD, NatsStreamLog, nats_servers
from aion.streams.protocol import TRIM_HORIZON, AppendRecord, Position
from tests.support.backends import unique
from tests.support.services import NATS_URL, require
from tests.support.stream_logs import opened


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_url_may_list_several_servers() -> None:
    assert nats_servers("nats://a:4222,nats://b:4223?prefix=X") == (
        ["nats://a:4222", "nats://b:4223"],
        "X",
    )
    assert nats_servers("nats://u:p@a:4222,b:4222") == (
        ["nats://u:p@a:4222", "nats://b:4222"],
        "AION",
    )
    assert nats_servers("tls://a:4222")[0] == ["tls://a:4222"]


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("nats://a:4222,nats://b:x", "bad port"),
        ("nats://a:4222?bogus=1", "bogus"),
        ("nats://,", "names no"),
    ],
)
def test_a_bad_server_list_is_refused_plainly(url: str, named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        nats_servers(url)


@pytest.mark.service
async def test_a_cluster_url_works_when_one_server_is_down() -> None:
    require("nats")
    url = f"nats://127.0.0.1:{_closed_port()},{NATS_URL}"
    ns = unique("ns")
    async with opened(url, ns) as log:
        await log.create_stream(ns, "s", shards=1)
        await log.append(ns, "s", [AppendRecord("k", b"x")])
        result = await log.read(ns, "s", 0, TRIM_HORIZON)
        assert [r.data for r in result.records] == [b"x"]


@pytest.mark.service
async def test_readers_at_different_positions_reuse_their_consumers() -> None:
    """Three readers of one shard (as three rollup rules are), each at its own position,
    read one record at a time: each keeps one consumer instead of making one per read."""
    require("nats")
    ns = unique("ns")
    async with opened(NATS_URL, ns) as log:
        assert isinstance(log, NatsStreamLog)
        await log.create_stream(ns, "s", shards=1)
        await log.append(ns, "s", [AppendRecord("k", b"%d" % i) for i in range(90)])
        positions: list[Position] = [TRIM_HORIZON] * 3
        starts = [0, 30, 60]
        for i, start in enumerate(starts):
            if start:
                first = await log.read(ns, "s", 0, TRIM_HORIZON, limit=start)
                positions[i] = Position.after_sequence(first.records[-1].sequence)
        seen: list[list[bytes]] = [[], [], []]
        for _ in range(25):
            for i in range(3):
                result = await log.read(ns, "s", 0, positions[i], limit=1)
                seen[i].extend(r.data for r in result.records)
                positions[i] = Position.after_sequence(result.records[-1].sequence)
        assert seen == [[b"%d" % (s + n) for n in range(25)] for s in starts]
        info = await log.js.stream_info(log.stream_name(ns, "s"))
        # One consumer per reader (and the ones the set-up reads left, at most one per shard
        # position kept): not one per read (75 reads here).
        assert info.state.consumer_count <= CURSORS_PER_SHARD
        assert info.state.consumer_count <= 5
