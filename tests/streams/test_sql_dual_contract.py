"""One write serves both contracts on the SQL backends: the EventStore (time) and the
StreamLog (shard, sequence) read the same rows."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aion.core.events import prepare_event
from aion.core.ids import key_range
from aion.storage import EventStore, open_event_store
from aion.storage.backends.sqlite import SQLiteEventStore
from aion.storage.protocol import flatten
from aion.streams.protocol import TRIM_HORIZON, AppendRecord, StreamLog, StreamNotFound
from aion.streams.registry import open_stream_log
from tests.support.backends import unique


@pytest.fixture(params=["sqlite", "postgresql"])
async def pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[EventStore, StreamLog, str]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/dual.db"
    else:
        url = request.getfixturevalue("postgres_url")
    store, log = await _open_server(url)
    ns = unique("ns")
    yield store, log, ns
    for stream in await log.list_streams(ns):
        await log.delete_stream(ns, stream)
    await log.close()
    await store.close()


async def test_records_read_by_time_and_events_read_by_sequence(
    pair: tuple[EventStore, StreamLog, str],
) -> None:
    store, log, ns = pair
    await log.create_stream(ns, "s", shards=1)
    placed = await log.append(ns, "s", [AppendRecord("user-1", b"\x00\xffraw")])
    event = prepare_event({"kind": "click", "@time": 5}, now=0)
    await store.insert(ns, "s", [event])
    low, high = key_range(0, 2**59) or (b"", b"")
    by_time = [json.loads(e.payload) async for e in flatten(store.retrieve(ns, "s", low, high))]
    assert by_time[0]["kind"] == "click"
    record = by_time[1]
    assert base64.b64decode(record["data"]) == b"\x00\xffraw"
    assert record["partition_key"] == "user-1"
    assert {"@id", "@time"} <= set(record)
    got = (await log.read(ns, "s", 0, TRIM_HORIZON)).records
    assert (got[0].shard, got[0].sequence) == placed[0]
    assert got[0].data == b"\x00\xffraw"
    assert json.loads(got[1].data)["kind"] == "click"
    assert got[1].sequence == placed[0][1] + 1


@pytest.fixture
async def other(
    pair: tuple[EventStore, StreamLog, str], request: pytest.FixtureRequest
) -> AsyncIterator[tuple[EventStore, StreamLog]]:
    """A second server's store and stream log on the same database, with caches of its own."""
    store = pair[0]
    if isinstance(store, SQLiteEventStore):
        url = f"sqlite:///{store.path}"
    else:
        url = request.getfixturevalue("postgres_url")
    other_store, other_log = await _open_server(url)
    yield other_store, other_log
    await other_log.close()
    await other_store.close()


async def _open_server(url: str) -> tuple[EventStore, StreamLog]:
    """What one server opens on a database: its event store and its stream log."""
    store = open_event_store(url)
    await store.open()
    log = open_stream_log(url, store=store)
    await log.open()
    return store, log


async def _datas(log: StreamLog, ns: str, stream: str) -> list[bytes]:
    described = await log.describe_stream(ns, stream)
    datas = []
    for shard in described.shards:
        datas += [r.data for r in (await log.read(ns, stream, shard.shard, TRIM_HORIZON)).records]
    return sorted(datas)


async def test_a_stream_another_server_recreated_takes_the_next_append(
    pair: tuple[EventStore, StreamLog, str], other: tuple[EventStore, StreamLog]
) -> None:
    _, log, ns = pair
    _, other_log = other
    await log.create_stream(ns, "s", shards=1)
    await log.append(ns, "s", [AppendRecord("k", b"before")])  # this server caches it
    await other_log.delete_stream(ns, "s")
    await other_log.create_stream(ns, "s", shards=4)
    placed = await log.append(ns, "s", [AppendRecord(f"k{i}", b"after") for i in range(20)])
    assert {shard for shard, _ in placed} <= {0, 1, 2, 3}
    assert len({shard for shard, _ in placed}) > 1  # placed over the new four shards
    assert await _datas(other_log, ns, "s") == [b"after"] * 20
    await other_log.delete_stream(ns, "s")
    with pytest.raises(StreamNotFound):
        await log.append(ns, "s", [AppendRecord("k", b"lost?")])


async def test_events_go_to_the_stream_as_it_is_now(
    pair: tuple[EventStore, StreamLog, str], other: tuple[EventStore, StreamLog]
) -> None:
    store, _, ns = pair
    other_store, other_log = other
    await store.insert(ns, "s", [prepare_event({"n": 1}, now=1)])
    await other_log.delete_stream(ns, "s")  # another server drops the stream...
    await store.insert(ns, "s", [prepare_event({"n": 2}, now=2)])  # ...this one writes on
    low, high = key_range(0, 2**59) or (b"", b"")
    events = flatten(other_store.retrieve(ns, "s", low, high))
    assert [json.loads(e.payload)["n"] async for e in events] == [2]


async def test_a_reader_follows_a_stream_another_server_recreated(
    pair: tuple[EventStore, StreamLog, str], other: tuple[EventStore, StreamLog]
) -> None:
    _, log, ns = pair
    _, other_log = other
    await log.create_stream(ns, "s", shards=1)
    assert (await log.read(ns, "s", 0, TRIM_HORIZON)).records == []  # this server caches it
    await other_log.delete_stream(ns, "s")
    await other_log.create_stream(ns, "s", shards=1)
    await other_log.append(ns, "s", [AppendRecord("k", b"new")])
    assert [r.data for r in (await log.read(ns, "s", 0, TRIM_HORIZON)).records] == [b"new"]
    await other_log.delete_stream(ns, "s")
    with pytest.raises(StreamNotFound):
        await log.read(ns, "s", 0, TRIM_HORIZON)
