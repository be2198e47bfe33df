"""One suite over every StreamLog backend, against the real services (no mocks)."""

from __future__ import annotations

import asyncio
import time
import tracemalloc

import pytest

from aion.core.sharding import HASH_KEY_SPACE, shard_for_key
from aion.core.time import kronos_time_now
from aion.errors import NotFound, ValidationError
from aion.streams.protocol import (
    LATEST,
    MAX_READ_BYTES,
    MAX_RETENTION_SECONDS,
    MAX_SEQUENCE,
    MAX_TIMESTAMP,
    TRIM_HORIZON,
    AppendRecord,
    Position,
    SequencePastEnd,
    SequenceTrimmed,
    ShardNotFound,
    StoredRecord,
    StreamLog,
    StreamNotFound,
)


def recs(*keys: str, prefix: bytes = b"r") -> list[AppendRecord]:
    return [AppendRecord(k, prefix + str(i).encode()) for i, k in enumerate(keys)]


async def read_all(log: StreamLog, ns: str, stream: str, shard: int) -> list[StoredRecord]:
    out: list[StoredRecord] = []
    position = TRIM_HORIZON
    while True:
        result = await log.read(ns, stream, shard, position, limit=7)
        out.extend(result.records)
        if not result.records:
            return out
        position = result.next_position


async def test_create_describe_list_delete(log: StreamLog, ns: str) -> None:
    made = await log.create_stream(ns, "orders", shards=4, retention_seconds=3600)
    assert [s.shard for s in made.shards] == [0, 1, 2, 3]
    assert made.retention_seconds == 3600
    assert made.shards[0].starting_hash_key == 0
    assert made.shards[-1].ending_hash_key == HASH_KEY_SPACE - 1
    for a, b in zip(made.shards, made.shards[1:], strict=False):
        assert b.starting_hash_key == a.ending_hash_key + 1
    assert all(s.ending_sequence == 0 for s in made.shards)
    assert made.shards[1].shard_id == "shardId-000000000001"
    again = await log.create_stream(ns, "orders", shards=4, retention_seconds=3600)
    assert [s.shard for s in again.shards] == [0, 1, 2, 3]
    with pytest.raises(ValidationError) as info:
        await log.create_stream(ns, "orders", shards=2)
    assert info.value.field == "shards"
    await log.create_stream(ns, "a-stream.2", shards=1)
    assert await log.list_streams(ns) == ["a-stream.2", "orders"]
    await log.delete_stream(ns, "orders")
    assert await log.list_streams(ns) == ["a-stream.2"]
    with pytest.raises(StreamNotFound):
        await log.describe_stream(ns, "orders")
    with pytest.raises(NotFound):
        await log.append(ns, "orders", recs("a"))


async def test_bad_names_and_arguments(log: StreamLog, ns: str) -> None:
    with pytest.raises(ValidationError) as info:
        await log.create_stream(ns, "bad name", shards=1)
    assert info.value.field == "stream"
    with pytest.raises(ValidationError) as info:
        await log.create_stream(ns, "s", shards=0)
    assert info.value.field == "shards"
    with pytest.raises(ValidationError) as info:
        await log.create_stream(ns, "s", shards=1, retention_seconds=0)
    assert info.value.field == "retention_seconds"
    # Beyond 64-bit columns and NATS' max_age in nanoseconds: refused before any write.
    for too_long in (MAX_RETENTION_SECONDS + 1, 2**70):
        with pytest.raises(ValidationError) as info:
            await log.create_stream(ns, "s", shards=1, retention_seconds=too_long)
        assert info.value.field == "retention_seconds"
    assert await log.list_streams(ns) == []
    made = await log.create_stream(ns, "kept", shards=1, retention_seconds=MAX_RETENTION_SECONDS)
    assert made.retention_seconds == MAX_RETENTION_SECONDS
    await log.append(ns, "kept", recs("a"))
    assert await log.trim(ns, "kept") == 0


async def test_append_places_by_md5_and_numbers_per_shard(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=3)
    keys = [f"user-{i}" for i in range(60)]
    placed = await log.append(ns, "s", recs(*keys))
    assert [shard for shard, _ in placed] == [shard_for_key(k, 3) for k in keys]
    for shard in range(3):
        seqs = [seq for s, seq in placed if s == shard]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    more = await log.append(ns, "s", recs(*keys))
    for (s1, q1), (s2, q2) in zip(placed, more, strict=True):
        assert s1 == s2 and q2 > q1
    described = await log.describe_stream(ns, "s")
    for shard in described.shards:
        expected = [q for s, q in placed + more if s == shard.shard]
        assert shard.ending_sequence == max(expected)
        assert shard.starting_sequence <= min(expected)


async def test_explicit_hash_key_overrides_partition_key(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=4)
    top = HASH_KEY_SPACE - 1
    placed = await log.append(
        ns, "s", [AppendRecord("k", b"x", explicit_hash_key=0), AppendRecord("k", b"y", top)]
    )
    assert [s for s, _ in placed] == [0, 3]
    with pytest.raises(ValidationError) as info:
        await log.append(ns, "s", [AppendRecord("k", b"x", explicit_hash_key=HASH_KEY_SPACE)])
    assert info.value.field == "explicit_hash_key"


async def test_read_back_exact_bytes_in_order_with_limit(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)
    blobs = [bytes([i % 256]) * (i + 1) for i in range(25)] + [b"", b"\xff\x00\xfe", b'{"a":1}']
    keys = [f"k{i}" for i in range(len(blobs))]
    before = kronos_time_now()
    placed = await log.append(
        ns, "s", [AppendRecord(k, b) for k, b in zip(keys, blobs, strict=True)]
    )
    got = await read_all(log, ns, "s", 0)
    assert [r.data for r in got] == blobs
    assert [r.partition_key for r in got] == keys
    assert [(r.shard, r.sequence) for r in got] == placed
    assert all(before - 10_000 <= r.arrival_time <= kronos_time_now() for r in got)
    first = await log.read(ns, "s", 0, TRIM_HORIZON, limit=5)
    assert len(first.records) == 5
    assert first.next_position == Position.after_sequence(first.records[-1].sequence)
    assert first.millis_behind_latest >= 0


async def test_latest_sees_only_later_appends(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)
    await log.append(ns, "s", recs("a", "b"))
    start = await log.read(ns, "s", 0, LATEST)
    assert start.records == []
    await log.append(ns, "s", recs("c", prefix=b"new"))
    after = await log.read(ns, "s", 0, start.next_position)
    assert [r.data for r in after.records] == [b"new0"]
    assert after.millis_behind_latest == 0


async def test_at_and_after_sequence_numbers(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)
    placed = await log.append(ns, "s", recs(*"abcde"))
    seqs = [q for _, q in placed]
    at = await log.read(ns, "s", 0, Position.at_sequence(seqs[2]))
    assert [r.sequence for r in at.records] == seqs[2:]
    after = await log.read(ns, "s", 0, Position.after_sequence(seqs[2]))
    assert [r.sequence for r in after.records] == seqs[3:]
    end = await log.read(ns, "s", 0, Position.after_sequence(seqs[-1]))
    assert end.records == [] and end.next_position == Position.after_sequence(seqs[-1])
    with pytest.raises(SequencePastEnd) as info:
        await log.read(ns, "s", 0, Position.at_sequence(seqs[-1] + 1))
    assert info.value.field == "position"
    with pytest.raises(SequencePastEnd):
        await log.read(ns, "s", 0, Position.after_sequence(seqs[-1] + 10**6))


async def test_at_timestamp(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)
    await log.append(ns, "s", recs("a", "b"))
    await asyncio.sleep(0.02)
    middle = kronos_time_now()
    await asyncio.sleep(0.02)
    await log.append(ns, "s", recs("c", prefix=b"late"))
    got = await log.read(ns, "s", 0, Position.at_timestamp(middle))
    assert [r.data for r in got.records] == [b"late0"]
    future = await log.read(ns, "s", 0, Position.at_timestamp(kronos_time_now() + 10**9))
    assert future.records == []


async def test_unknown_stream_and_shard(log: StreamLog, ns: str) -> None:
    with pytest.raises(StreamNotFound):
        await log.read(ns, "missing", 0, TRIM_HORIZON)
    await log.create_stream(ns, "s", shards=2)
    with pytest.raises(ShardNotFound):
        await log.read(ns, "s", 2, TRIM_HORIZON)
    with pytest.raises(ShardNotFound):
        await log.set_checkpoint(ns, "s", "g", 5, 1)


async def test_oversized_record_refused_and_batch_untouched(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)
    big = AppendRecord("k", b"x" * (1 << 20))
    with pytest.raises(ValidationError) as info:
        await log.append(ns, "s", [AppendRecord("k", b"fine"), big])
    assert info.value.field == "data"
    assert "records[1]" in str(info.value)
    with pytest.raises(ValidationError) as info:
        await log.append(ns, "s", [AppendRecord("", b"no key")])
    assert info.value.field == "partition_key"
    assert (await log.read(ns, "s", 0, TRIM_HORIZON)).records == []


async def test_long_poll_wakes_on_append(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)

    async def later() -> None:
        await asyncio.sleep(0.2)
        await log.append(ns, "s", recs("a", prefix=b"woke"))

    task = asyncio.create_task(later())
    started = time.monotonic()
    got = await log.read(ns, "s", 0, LATEST, wait_seconds=60)
    elapsed = time.monotonic() - started
    await task
    assert [r.data for r in got.records] == [b"woke0"]
    # Woken by the append: a read that only timed out would have taken the whole minute.
    assert 0.1 < elapsed < 60
    started = time.monotonic()
    empty = await log.read(ns, "s", 0, got.next_position, wait_seconds=0.3)
    assert empty.records == []
    assert time.monotonic() - started >= 0.25  # it did wait (how much longer is load's business)


async def test_concurrent_appends_keep_per_shard_order(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=2)
    results = await asyncio.gather(
        *(log.append(ns, "s", recs(*[f"k{j}" for j in range(20)], prefix=b"t")) for _ in range(8))
    )
    placed = [p for batch in results for p in batch]
    assert len(set(placed)) == 160
    for shard in range(2):
        got = await read_all(log, ns, "s", shard)
        assert [r.sequence for r in got] == sorted(q for s, q in placed if s == shard)


async def test_trim_by_retention(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1, retention_seconds=1)
    placed = await log.append(ns, "s", recs("a", "b", "c"))
    await asyncio.sleep(1.1)
    fresh = await log.append(ns, "s", recs("d", prefix=b"fresh"))
    deadline = time.monotonic() + 5
    while True:
        await log.trim(ns, "s")
        got = await read_all(log, ns, "s", 0)
        if [r.data for r in got] == [b"fresh0"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert [r.data for r in got] == [b"fresh0"]
    with pytest.raises(SequenceTrimmed):
        await log.read(ns, "s", 0, Position.at_sequence(placed[0][1]))
    with pytest.raises(SequenceTrimmed):
        await log.read(ns, "s", 0, Position.after_sequence(0))
    shard = (await log.describe_stream(ns, "s")).shards[0]
    assert shard.trimmed_through >= placed[-1][1]
    assert shard.starting_sequence <= fresh[0][1] == shard.ending_sequence


async def test_checkpoints_compare_and_set(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=2)
    # Explicit hash keys: three records in shard 0, two in shard 1.
    zero = [q for _, q in await log.append(ns, "s", [AppendRecord("a", b"0", 0)] * 3)]
    one = [q for _, q in await log.append(ns, "s", [AppendRecord("b", b"1", 2**127)] * 2)]
    assert await log.get_checkpoints(ns, "s", "g") == {}
    assert await log.set_checkpoint(ns, "s", "g", 0, zero[0], expected=0)
    assert not await log.set_checkpoint(ns, "s", "g", 0, zero[2], expected=zero[0] + 1000)
    assert await log.set_checkpoint(ns, "s", "g", 0, zero[2], expected=zero[0])
    assert await log.set_checkpoint(ns, "s", "g", 1, one[0])
    assert await log.set_checkpoint(ns, "s", "other", 1, one[1])
    assert await log.get_checkpoints(ns, "s", "g") == {0: zero[2], 1: one[0]}
    assert await log.get_checkpoints(ns, "s", "other") == {1: one[1]}


async def test_checkpoint_past_the_shard_end_is_refused(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=2)
    with pytest.raises(SequencePastEnd) as info:
        await log.set_checkpoint(ns, "s", "g", 0, 1)  # the shard holds nothing yet
    assert info.value.field == "sequence"
    [(_, last)] = await log.append(ns, "s", [AppendRecord("a", b"x", 0)])
    with pytest.raises(SequencePastEnd):
        await log.set_checkpoint(ns, "s", "g", 0, last + 1, expected=0)
    assert await log.get_checkpoints(ns, "s", "g") == {}
    assert await log.set_checkpoint(ns, "s", "g", 0, last, expected=0)
    assert await log.set_checkpoint(ns, "s", "g", 0, 0)  # back to "none", always allowed


async def test_leases_compare_and_set(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=2)
    assert await log.get_leases(ns, "s", "g") == {}
    won = await log.set_lease(ns, "s", "g", 0, "w1", 10, expected_version=0)
    assert won is not None and won.version == 1 and won.owner == "w1"
    assert await log.set_lease(ns, "s", "g", 0, "w2", 10, expected_version=0) is None
    renewed = await log.set_lease(ns, "s", "g", 0, "w1", 30, expected_version=1)
    assert renewed is not None and renewed.expires_at > won.expires_at
    # A claim keeps the owner and the expiry and names the claimant.
    claimed = await log.set_lease(ns, "s", "g", 0, "w1", None, 2, claimant="w2")
    assert claimed is not None and claimed.expires_at == renewed.expires_at
    assert (await log.get_leases(ns, "s", "g"))[0] == claimed
    assert claimed.claimant == "w2" and claimed.owner == "w1"
    released = await log.set_lease(ns, "s", "g", 0, None, None, expected_version=3)
    assert released is not None and released.owner is None and released.claimant is None
    leases = await log.get_leases(ns, "s", "g")
    assert leases == {0: released}
    racers = await asyncio.gather(
        *(log.set_lease(ns, "s", "g", 1, f"w{i}", 10, expected_version=0) for i in range(5))
    )
    assert sum(r is not None for r in racers) == 1


async def test_leases_expire_on_the_store_clock(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)
    before = await log.lease_time(ns, "s")
    won = await log.set_lease(ns, "s", "g", 0, "w", 30, expected_version=0)
    after = await log.lease_time(ns, "s")
    assert won is not None
    # The store stamped the lease with its own clock: 30 s after a moment of this call.
    tick = 10_000  # one millisecond: the coarsest store clock (SQLite's)
    assert before + 30 * 10_000_000 - tick <= won.expires_at <= after + 30 * 10_000_000 + tick
    # Reserved for a claimant: no owner, an expiry, the claimant kept.
    kept = await log.set_lease(ns, "s", "g", 0, None, 5, 1, claimant="next")
    assert kept is not None
    assert (await log.get_leases(ns, "s", "g"))[0] == kept
    assert kept.owner is None and kept.claimant == "next" and kept.expires_at > after
    for bad in (0, -1, 3601, True):
        with pytest.raises(ValidationError) as info:
            await log.set_lease(ns, "s", "g", 0, "w", bad, expected_version=2)
        assert info.value.field == "lease_seconds"
    with pytest.raises(ValidationError) as info:
        await log.set_lease(ns, "s", "g", 0, "a\nb", 1, expected_version=2)
    assert info.value.field == "owner"
    with pytest.raises(StreamNotFound):
        await log.lease_time(ns, "missing")


async def _read_chain(
    log: StreamLog, ns: str, stream: str, max_bytes: int, limit: int = 1000
) -> list[list[bytes]]:
    """The data of each read from TRIM_HORIZON, chained, until one returns nothing."""
    reads: list[list[bytes]] = []
    position = TRIM_HORIZON
    while True:
        result = await log.read(ns, stream, 0, position, limit=limit, max_bytes=max_bytes)
        if not result.records:
            return reads
        reads.append([r.data for r in result.records])
        position = result.next_position


async def test_read_stops_at_max_bytes_and_the_next_read_goes_on(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)
    blobs = [bytes([i]) * 100_000 for i in range(11)]
    await log.append(ns, "s", [AppendRecord("k", b) for b in blobs])
    reads = await _read_chain(log, ns, "s", max_bytes=450_000)
    # The longest run that fits: 4 records of 100,000 bytes, never 5; none lost or repeated.
    assert [len(r) for r in reads] == [4, 4, 3]
    assert [b for r in reads for b in r] == blobs
    # A budget filled exactly takes the record that fills it.
    assert [len(r) for r in await _read_chain(log, ns, "s", max_bytes=300_000)] == [3] * 3 + [2]
    # The record limit still applies within the budget.
    assert [len(r) for r in await _read_chain(log, ns, "s", 450_000, limit=3)] == [3] * 3 + [2]


async def test_read_returns_one_record_larger_than_max_bytes(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)
    blobs = [b"a" * 10, b"b" * 50_000, b"", b"c" * 10, b"d" * 95, b"e" * 100, b""]
    await log.append(ns, "s", [AppendRecord("k", b) for b in blobs])
    # A record over the budget comes alone; it never blocks the shard. Once the bytes are
    # spent exactly, nothing more comes, not even an empty record.
    assert await _read_chain(log, ns, "s", max_bytes=100) == [
        [b"a" * 10],
        [b"b" * 50_000],
        [b"", b"c" * 10],
        [b"d" * 95],
        [b"e" * 100],
        [b""],
    ]
    with pytest.raises(ValidationError) as info:
        await log.read(ns, "s", 0, TRIM_HORIZON, max_bytes=0)
    assert info.value.field == "max_bytes"


async def test_default_read_holds_at_most_max_read_bytes(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)
    blob = b"z" * (512 * 1024)
    for _ in range(3):
        await log.append(ns, "s", [AppendRecord("k", blob)] * 7)
    first = await log.read(ns, "s", 0, TRIM_HORIZON)
    assert len(first.records) == MAX_READ_BYTES // len(blob) == 20
    rest = await log.read(ns, "s", 0, first.next_position)
    assert len(rest.records) == 1
    assert rest.records[0].sequence > first.records[-1].sequence


async def test_long_poll_wakes_within_max_bytes(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)
    blobs = [bytes([i]) * 200_000 for i in range(3)]

    async def later() -> None:
        await asyncio.sleep(0.2)
        await log.append(ns, "s", [AppendRecord("k", b) for b in blobs])

    start = await log.read(ns, "s", 0, LATEST)  # pinned before the append, whenever it lands
    task = asyncio.create_task(later())
    got = await log.read(ns, "s", 0, start.next_position, wait_seconds=30, max_bytes=300_000)
    await task
    assert [r.data for r in got.records] == blobs[:1]
    rest = await log.read(ns, "s", 0, got.next_position, max_bytes=500_000)
    assert [r.data for r in rest.records] == blobs[1:]


async def test_a_read_holds_about_its_max_bytes_in_memory(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)
    blob = b"m" * (128 * 1024)
    for _ in range(4):
        await log.append(ns, "s", [AppendRecord("k", blob)] * 16)  # 8 MiB in the shard
    await log.read(ns, "s", 0, TRIM_HORIZON, limit=1)  # connections and consumers made already
    tracemalloc.start()
    try:
        got = await log.read(ns, "s", 0, TRIM_HORIZON, max_bytes=512 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(got.records) == 4
    # Python allocations only (the drivers' C buffers are not traced): the 4 records, the
    # stored form of a few more, never the 8 MiB of the shard.
    assert peak < 4 * 1024 * 1024, f"a 512 KiB read peaked at {peak} bytes"


async def test_out_of_range_numbers_are_refused(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)
    for sequence, expected, name in (
        (2**70, None, "sequence"),
        (-1, None, "sequence"),
        (1, 2**64, "expected"),
    ):
        with pytest.raises(ValidationError) as info:
            await log.set_checkpoint(ns, "s", "g", 0, sequence, expected)
        assert info.value.field == name
    # In range, but past the shard's end: refused as such (a checkpoint names a record).
    with pytest.raises(SequencePastEnd):
        await log.set_checkpoint(ns, "s", "g", 0, MAX_SEQUENCE)
    assert await log.get_checkpoints(ns, "s", "g") == {}
    for version in (-1, MAX_SEQUENCE, 2**70):
        with pytest.raises(ValidationError) as info:
            await log.set_lease(ns, "s", "g", 0, "w", 1, expected_version=version)
        assert info.value.field == "expected_version"
    assert await log.get_leases(ns, "s", "g") == {}
    for kind_value in (MAX_TIMESTAMP + 1, 2**70, -1):
        with pytest.raises(ValidationError) as info:
            Position.at_timestamp(kind_value)
        assert info.value.field == "position"
    with pytest.raises(ValidationError):
        Position.after_sequence(MAX_SEQUENCE + 1)
    await log.append(ns, "s", recs("a"))
    far = await log.read(ns, "s", 0, Position.at_timestamp(MAX_TIMESTAMP))
    assert far.records == []
