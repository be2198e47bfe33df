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
from aion.core.streamlog import TRIM_HORIZON, AppendRecord, StreamLog
from aion.storage import EventStore, open_event_store
from aion.storage.protocol import flatten
from aion.storage.url_streams import open_sql_stream_log
from tests.streams.backends import unique


@pytest.fixture(params=["sqlite", "postgresql"])
async def pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[EventStore, StreamLog, str]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/dual.db"
    else:
        url = request.getfixturevalue("postgres_url")
    store = open_event_store(url)
    await store.open()
    log = open_sql_stream_log(url, store=store)
    await log.open()
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
