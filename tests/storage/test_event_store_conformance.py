"""One suite over every EventStore backend, against the real services."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aion.core.events import LINE_END, EventRecord, prepare_event
from aion.core.ids import key_range, sort_key
from aion.storage import EventStore, open_event_store
from aion.storage.batches import PRUNE_EVERY, RETENTION_SECONDS, BatchIds
from aion.storage.protocol import LinesRetrieval, flatten
from aion.storage.schema import BATCHES_TABLE
from tests.support.backends import EVENT_STORES, event_store_url, params


@pytest.fixture(params=params(EVENT_STORES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    backend = open_event_store(event_store_url(request.param, tmp_path, request))
    await backend.open()
    yield backend
    if request.param == "postgresql":
        await _wipe_postgres(backend)
    await backend.close()


async def _wipe_postgres(backend: EventStore) -> None:
    from aion.storage.backends.postgres import PostgresEventStore

    assert isinstance(backend, PostgresEventStore)

    async def job(conn: object) -> None:
        await conn.execute("TRUNCATE aion_events, aion_shards, aion_streams")  # type: ignore[attr-defined]

    await backend.run(job)  # type: ignore[arg-type]


def events_at(*times: int) -> list[EventRecord]:
    return [prepare_event({"n": i, "@time": t}, now=0) for i, t in enumerate(times)]


async def fetch(
    store: EventStore,
    stream: str,
    start: int,
    end: int,
    *,
    namespace: str = "ns",
    start_key: bytes | None = None,
    descending: bool = False,
    limit: int | None = None,
) -> list[dict[str, object]]:
    bounds = key_range(start, end, start_key)
    if bounds is None:
        return []
    payloads = [
        e.payload
        async for e in flatten(
            store.retrieve(namespace, stream, *bounds, descending=descending, limit=limit)
        )
    ]
    if isinstance(store, LinesRetrieval):  # the same answer, as lines built by the store
        lines = store.retrieve_lines(namespace, stream, *bounds, descending=descending, limit=limit)
        pages = [page async for page in lines]
        assert all(page.count for page in pages)
        assert b"".join(page.lines for page in pages) == b"".join(p + LINE_END for p in payloads)
        assert sum(page.count for page in pages) == len(payloads)
    return [json.loads(p) for p in payloads]


async def test_insert_then_get_is_inclusive_and_ordered(store: EventStore) -> None:
    times = [5, 1, 3, 2, 4, 3]
    assert await store.insert("ns", "s", events_at(*times)) == 6
    got = await fetch(store, "s", 1, 3)
    assert [e["@time"] for e in got] == [1, 2, 3, 3]
    ids = [e["@id"] for e in got]
    assert len(set(ids)) == 4
    everything = await fetch(store, "s", 0, 10)
    keys = [(e["@time"], e["@id"]) for e in everything]
    assert [k[0] for k in keys] == sorted(times)


async def test_order_is_the_time_uuid_order_both_ways(store: EventStore) -> None:
    records = events_at(*[random.randint(0, 50) for _ in range(200)])
    await store.insert("ns", "s", records)
    expected = sorted(r.key for r in records)
    import uuid

    asc = [sort_key(uuid.UUID(str(e["@id"]))) for e in await fetch(store, "s", 0, 100)]
    desc = [
        sort_key(uuid.UUID(str(e["@id"]))) for e in await fetch(store, "s", 0, 100, descending=True)
    ]
    assert asc == expected
    assert desc == expected[::-1]


async def test_limit_and_start_id_resume(store: EventStore) -> None:
    await store.insert("ns", "s", events_at(*range(1, 11)))
    assert [e["@time"] for e in await fetch(store, "s", 0, 100, limit=3)] == [1, 2, 3]
    assert [e["@time"] for e in await fetch(store, "s", 0, 100, limit=3, descending=True)] == [
        10,
        9,
        8,
    ]
    assert await fetch(store, "s", 0, 100, limit=0) == []
    third = (await fetch(store, "s", 0, 100, limit=3))[-1]
    import uuid

    key = sort_key(uuid.UUID(str(third["@id"])))
    rest = await fetch(store, "s", 0, 100, start_key=key)
    assert [e["@time"] for e in rest] == [4, 5, 6, 7, 8, 9, 10]


async def test_empty_and_inverted_ranges(store: EventStore) -> None:
    await store.insert("ns", "s", events_at(1, 2, 3))
    assert await fetch(store, "s", 3, 1) == []
    assert await fetch(store, "s", 10**15, 10**16) == []
    assert await fetch(store, "s", -100, -1) == []
    assert await fetch(store, "other", 0, 10) == []


async def test_namespaces_are_isolated(store: EventStore) -> None:
    await store.insert("one", "s", events_at(1))
    await store.insert("two", "s", events_at(1, 2))
    assert len(await fetch(store, "s", 0, 10, namespace="one")) == 1
    assert len(await fetch(store, "s", 0, 10, namespace="two")) == 2
    assert await store.list_streams("one") == ["s"]
    assert await store.list_streams("three") == []


async def test_delete_counts_and_is_inclusive(store: EventStore) -> None:
    await store.insert("ns", "s", events_at(1, 2, 3, 4, 5))
    low, high = key_range(2, 4) or (b"", b"")
    assert await store.delete("ns", "s", low, high) == 3
    assert [e["@time"] for e in await fetch(store, "s", 0, 10)] == [1, 5]
    assert await store.delete("ns", "missing", low, high) == 0


async def test_list_streams_sorted(store: EventStore) -> None:
    for name in ["b", "a", "c.d"]:
        await store.insert("ns", name, events_at(1))
    assert await store.list_streams("ns") == ["a", "b", "c.d"]


async def test_large_result_streams_in_pages(store: EventStore) -> None:
    await store.insert("ns", "big", events_at(*range(12_345)))
    n = 0
    last = -1
    pages = 0
    async for page in store.retrieve("ns", "big", *(key_range(0, 10**9) or (b"", b""))):
        assert page
        pages += 1
        for record in page:
            assert record.time >= last
            last = record.time
            n += 1
    assert n == 12_345
    assert pages > 1
    everything = await fetch(store, "big", 0, 10**9)
    assert [e["n"] for e in everything] == list(range(12_345))
    backwards = await fetch(store, "big", 0, 10**9, descending=True, limit=4_001)
    assert [e["n"] for e in backwards] == list(range(12_344, 12_344 - 4_001, -1))
    middle = await fetch(store, "big", 1_000, 9_999, limit=6_000)
    assert [e["n"] for e in middle] == list(range(1_000, 7_000))


def test_only_sqlite_builds_lines_itself() -> None:
    # So the conformance checks above compare the two read paths on SQLite.
    assert isinstance(open_event_store("sqlite:///unused.db"), LinesRetrieval)
    assert not isinstance(open_event_store("memory://"), LinesRetrieval)


async def test_concurrent_inserts_lose_nothing(store: EventStore) -> None:
    batches = [events_at(*range(i * 100, i * 100 + 100)) for i in range(20)]
    counts = await asyncio.gather(*(store.insert("ns", "c", b) for b in batches))
    assert sum(counts) == 2000
    assert len(await fetch(store, "c", 0, 10**6)) == 2000


async def test_is_alive(store: EventStore) -> None:
    assert await store.is_alive()


async def test_memory_cap_drops_oldest() -> None:
    store = open_event_store("memory://?max_items=3")
    await store.open()
    await store.insert("ns", "s", events_at(5, 1, 4, 2, 3))
    assert [e["@time"] for e in await fetch(store, "s", 0, 10)] == [3, 4, 5]


async def test_a_batch_id_is_stored_once_per_stream(store: EventStore) -> None:
    first = events_at(1, 2, 3)
    assert await store.insert("ns", "b", first, "batch-1") == 3
    assert await store.insert("ns", "b", events_at(1, 2, 3), "batch-1") == 0  # a retry
    assert await store.insert("ns", "other", events_at(4), "batch-1") == 1  # another stream
    assert await store.insert("ns", "b", events_at(5), "batch-2") == 1
    assert await store.insert("ns", "b", events_at(6), None) == 1
    assert await store.insert("ns", "b", events_at(6), None) == 1  # no id: always stored
    too_long = "x" * 129
    assert await store.insert("ns", "b", events_at(7), too_long) == 1
    assert await store.insert("ns", "b", events_at(7), too_long) == 1  # not remembered
    assert [e["n"] for e in await fetch(store, "b", 0, 100)] == [0, 1, 2, 0, 0, 0, 0, 0]


async def test_batch_ids_hold_across_store_objects(tmp_path: Path) -> None:
    # Two servers on one SQLite file: a retry that reaches the other one is not stored again.
    one, two = (open_event_store(f"sqlite:///{tmp_path}/shared.db") for _ in range(2))
    await one.open()
    await two.open()
    try:
        assert await one.insert("ns", "s", events_at(1, 2), "retried") == 2
        assert await two.insert("ns", "s", events_at(1, 2), "retried") == 0
        assert len(await fetch(two, "s", 0, 100)) == 2
    finally:
        await one.close()
        await two.close()


async def test_old_batch_ids_are_pruned(tmp_path: Path) -> None:
    path = tmp_path / "prune.db"
    store = open_event_store(f"sqlite:///{path}")
    await store.open()
    try:
        old = int(time.time()) - RETENTION_SECONDS - 60
        with sqlite3.connect(path) as conn:
            conn.execute(f"INSERT INTO {BATCHES_TABLE} VALUES ('ns', 's', 'ancient', ?)", (old,))
        # The first batch with an id prunes; the ancient id is forgotten.
        assert await store.insert("ns", "s", events_at(1), "fresh") == 1
        with sqlite3.connect(path) as conn:
            ids = [row[0] for row in conn.execute(f"SELECT batch_id FROM {BATCHES_TABLE}")]
        assert ids == ["fresh"]
    finally:
        await store.close()


def test_batch_ids_prune_on_the_first_and_every_thousandth() -> None:
    ids = BatchIds(clock=lambda: 1_000_000_000.5)
    assert ids.admit(None) is None and ids.admit("") is None and ids.admit("x" * 129) is None
    assert ids.admit("b") == ("b", 1_000_000_000)
    due = [ids.prune_due() for _ in range(PRUNE_EVERY + 1)]
    assert due.count(True) == 2 and due[0] and due[PRUNE_EVERY]
    assert ids.cutoff() == 1_000_000_000 - RETENTION_SECONDS
