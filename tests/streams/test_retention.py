"""Retention happens without anyone calling ``trim()``: the server's background trimmer,
over every backend."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from aion.errors import ConfigurationError
from aion.server.config import AionConfig
from aion.server.streams.retention import INTERVAL_KEY, NamespaceListing, RetentionTrimmer
from aion.streams.backends.memory import MemoryStreamLog
from aion.streams.protocol import TRIM_HORIZON, AppendRecord, StreamLog


async def _wait_for(check: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_expired_records_go_without_a_trim_call(log: StreamLog, ns: str) -> None:
    # The fresh record must outlive the check: with a 1 s retention a slow machine could trim
    # it too before the check saw it, so the retention is 3 s.
    await log.create_stream(ns, "short", shards=2, retention_seconds=3)
    await log.create_stream(ns, "forever", shards=1)
    old = [AppendRecord(f"k{i}", b"old") for i in range(6)]
    await log.append(ns, "short", old)
    await log.append(ns, "forever", old)
    await asyncio.sleep(3.2)  # older than the retention now
    [(fresh_shard, fresh_seq)] = await log.append(ns, "short", [AppendRecord("k0", b"new")])
    trimmer = RetentionTrimmer(log, interval_seconds=0.1)
    await trimmer.start()
    try:

        async def only_fresh_left() -> bool:
            left = []
            for shard in range(2):
                left += (await log.read(ns, "short", shard, TRIM_HORIZON)).records
            return [r.data for r in left] == [b"new"]

        assert await _wait_for(only_fresh_left, 2.5), "the old records were never trimmed"
    finally:
        await trimmer.stop()
    assert not trimmer.running
    assert trimmer.rounds >= 1
    described = await log.describe_stream(ns, "short")
    assert described.shards[fresh_shard].starting_sequence == fresh_seq
    # A stream without retention keeps everything.
    kept = (await log.read(ns, "forever", 0, TRIM_HORIZON)).records
    assert [r.data for r in kept] == [b"old"] * 6


async def test_backends_list_their_namespaces(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)
    assert isinstance(log, NamespaceListing)
    assert ns in await log.list_namespaces()


async def test_a_round_trims_configured_namespaces_too(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1, retention_seconds=1)
    trimmer = RetentionTrimmer(log, interval_seconds=0, namespaces=[ns, "empty-namespace"])
    await trimmer.start()  # an interval of 0 turns the task off; rounds can still be run
    assert not trimmer.running
    assert await trimmer.trim_all() == 0
    assert trimmer.rounds == 1


def test_interval_comes_from_the_config() -> None:
    base = AionConfig.for_data_dir("aion-data")
    log = MemoryStreamLog()
    configured = RetentionTrimmer.for_config(
        AionConfig.for_data_dir("aion-data", extra={INTERVAL_KEY: 2.5}, namespaces=("a",)), log
    )
    assert configured.interval_seconds == 2.5
    assert configured.namespaces == ("default", "a")
    assert RetentionTrimmer.for_config(base, log).interval_seconds == 60.0
    with pytest.raises(ConfigurationError, match=INTERVAL_KEY):
        RetentionTrimmer.for_config(
            AionConfig.for_data_dir("aion-data", extra={INTERVAL_KEY: "soon"}), log
        )
    with pytest.raises(ConfigurationError, match="negative"):
        RetentionTrimmer(log, interval_seconds=-1)
