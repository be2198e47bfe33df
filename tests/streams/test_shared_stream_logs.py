"""Two servers on one engine: what one does to a stream, the other sees at its next call.

Each StreamLog caches a stream's shape (its shard count). When another server deletes the
stream, or deletes it and makes it again with another shard count, a write through the first
must never be acknowledged into the shape that was replaced: it goes to the stream as it is
now, or raises StreamNotFound. Runs over every backend two servers can share.
"""

from __future__ import annotations

import asyncio

import pytest

from aion.streams.protocol import (
    TRIM_HORIZON,
    AppendRecord,
    Position,
    SequencePastEnd,
    SequenceTrimmed,
    StoredRecord,
    StreamLog,
    StreamNotFound,
)

Pair = tuple[StreamLog, StreamLog]


async def _everything(log: StreamLog, ns: str, stream: str) -> list[StoredRecord]:
    """Every record of every shard of the stream as ``log`` sees it now."""
    out: list[StoredRecord] = []
    for shard in (await log.describe_stream(ns, stream)).shards:
        position = TRIM_HORIZON
        while records := (result := await log.read(ns, stream, shard.shard, position)).records:
            out += records
            position = result.next_position
    return out


def _one(i: int) -> list[AppendRecord]:
    return [AppendRecord(f"key-{i}", str(i).encode())]


async def test_no_write_is_acknowledged_into_a_replaced_shape(two_logs: Pair, ns: str) -> None:
    a, b = two_logs
    await a.create_stream(ns, "s", shards=8)
    acknowledged = {0: await b.append(ns, "s", _one(0))}  # b caches eight shards
    await a.delete_stream(ns, "s")
    with pytest.raises(StreamNotFound):
        await b.append(ns, "s", _one(-1))
    await a.create_stream(ns, "s", shards=2)
    for i in range(1, 101):
        acknowledged[i] = await (a if i % 2 else b).append(ns, "s", _one(i))
    assert {shard for placed in list(acknowledged.values())[1:] for shard, _ in placed} == {0, 1}
    for log in (a, b):
        assert len((await log.describe_stream(ns, "s")).shards) == 2
        readable = {(r.shard, r.sequence): int(r.data) for r in await _everything(log, ns, "s")}
        # Every record acknowledged after the re-make is there, where it was said to be.
        assert readable == {placed[0]: i for i, placed in acknowledged.items() if i > 0}


async def test_a_batch_is_placed_over_the_new_shards(two_logs: Pair, ns: str) -> None:
    a, b = two_logs
    await a.create_stream(ns, "s", shards=1)
    await b.append(ns, "s", _one(0))
    await a.delete_stream(ns, "s")
    await a.create_stream(ns, "s", shards=3)
    batch = [AppendRecord(f"k{i}", b"x") for i in range(60)]
    placed = await b.append(ns, "s", batch)
    assert {shard for shard, _ in placed} == {0, 1, 2}
    assert sorted((r.shard, r.sequence) for r in await _everything(a, ns, "s")) == sorted(placed)


async def test_reads_follow_the_stream_as_it_is_now(two_logs: Pair, ns: str) -> None:
    a, b = two_logs
    await a.create_stream(ns, "s", shards=1)
    await a.append(ns, "s", _one(1))
    assert [r.data for r in (await b.read(ns, "s", 0, TRIM_HORIZON)).records] == [b"1"]
    await a.delete_stream(ns, "s")
    with pytest.raises(StreamNotFound):
        await b.read(ns, "s", 0, TRIM_HORIZON)
    await a.create_stream(ns, "s", shards=2)
    await a.append(ns, "s", [AppendRecord("k", b"new", explicit_hash_key=2**127)])
    assert [r.data for r in (await b.read(ns, "s", 1, TRIM_HORIZON)).records] == [b"new"]
    assert (await b.read(ns, "s", 0, TRIM_HORIZON)).records == []


async def test_a_position_in_the_old_stream_is_refused_in_the_new(two_logs: Pair, ns: str) -> None:
    a, b = two_logs
    await a.create_stream(ns, "s", shards=1)
    old = await b.append(ns, "s", [AppendRecord("k", str(i).encode()) for i in range(5)])
    await b.read(ns, "s", 0, TRIM_HORIZON)
    await a.delete_stream(ns, "s")
    await a.create_stream(ns, "s", shards=1)
    await a.append(ns, "s", [AppendRecord("k", b"new-1"), AppendRecord("k", b"new-2")])
    # A reader (or an iterator) that had reached the old stream's end does not go on,
    # silently, somewhere in the new one.
    for position in (Position.after_sequence(old[-1][1]), Position.at_sequence(old[-1][1])):
        with pytest.raises((SequencePastEnd, SequenceTrimmed)):
            await b.read(ns, "s", 0, position)
    assert [r.data for r in (await b.read(ns, "s", 0, TRIM_HORIZON)).records] == [
        b"new-1",
        b"new-2",
    ]


async def test_a_deleted_stream_is_not_found_by_the_other_server(two_logs: Pair, ns: str) -> None:
    a, b = two_logs
    await a.create_stream(ns, "s", shards=2, retention_seconds=3600)
    await b.append(ns, "s", _one(0))
    await b.trim(ns, "s")
    await a.delete_stream(ns, "s")
    with pytest.raises(StreamNotFound):
        await b.describe_stream(ns, "s")
    with pytest.raises(StreamNotFound):
        await b.delete_stream(ns, "s")
    assert await b.list_streams(ns) == []
    # Made again through b, whose cache said it had two shards: it has one.
    await b.create_stream(ns, "s", shards=1)
    assert len((await a.describe_stream(ns, "s")).shards) == 1


async def test_writes_racing_a_remake_are_stored_or_refused(two_logs: Pair, ns: str) -> None:
    a, b = two_logs
    await a.create_stream(ns, "s", shards=8)
    await b.append(ns, "s", _one(0))
    remade = False
    after: dict[int, tuple[int, int]] = {}  # appends started once the new stream was made
    refused: list[BaseException] = []

    async def writer(first: int) -> None:
        i, done_after = first, 0
        while done_after < 25:  # goes on until 25 of its appends started on the new stream
            i += 4
            started_after = remade
            done_after += started_after
            try:
                [placed] = await b.append(ns, "s", _one(i))
            except StreamNotFound as exc:  # the stream was gone at that moment
                refused.append(exc)
                continue
            if started_after:
                after[i] = placed

    async def remake() -> None:
        nonlocal remade
        await a.delete_stream(ns, "s")
        await a.create_stream(ns, "s", shards=2)
        remade = True

    await asyncio.gather(*(writer(k) for k in range(1, 4)), remake())
    assert not refused or all(isinstance(e, StreamNotFound) for e in refused)
    readable = {(r.shard, r.sequence): int(r.data) for r in await _everything(a, ns, "s")}
    assert {shard for shard, _ in readable} <= {0, 1}
    assert len(after) >= 75
    assert {placed: i for i, placed in after.items()}.items() <= readable.items()
