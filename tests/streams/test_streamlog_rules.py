"""The pure rules every StreamLog backend shares (no backend, no sockets)."""

from __future__ import annotations

import pytest

from aion.core.sharding import hash_key_ranges
from aion.errors import ValidationError
from aion.streams.protocol import (
    MAX_SEQUENCE,
    Lease,
    Position,
    ShardNotFound,
    StoredRecord,
    StreamNotFound,
    parse_sequence,
)
from aion.streams.rules import (
    ReadBudget,
    StreamInfoCache,
    check_checkpoint,
    check_lease_version,
    check_limit,
    check_shard,
    check_shard_count,
    checkpoint_matches,
    granted_lease,
    lease_after_cas,
    lease_expiry,
    lease_from_text,
    lease_text,
    owner_and_claimant,
    read_result,
    retention_cutoff,
    shard_bounds,
    stored_owner,
    stream_description,
    stream_not_found,
)


def test_shard_numbers_outside_the_stream_are_refused() -> None:
    check_shard("s", 0, 1)
    check_shard("s", 3, 4)
    for bad in (-1, 4, True, "1", 1.0):
        with pytest.raises(ShardNotFound, match="has no shard"):
            check_shard("s", bad, 4)  # type: ignore[arg-type]


def test_limit_and_shard_count_checks_name_their_field() -> None:
    check_limit(1)
    with pytest.raises(ValidationError) as limit:
        check_limit(0)
    assert limit.value.field == "limit"
    check_shard_count("s", 2, 2)
    with pytest.raises(ValidationError, match="exists with 2 shards, not 3") as count:
        check_shard_count("s", 2, 3)
    assert count.value.field == "shards"


def test_stream_not_found_names_stream_and_namespace() -> None:
    error = stream_not_found("ns", "s")
    assert isinstance(error, StreamNotFound)
    assert str(error) == "no stream 's' in namespace 'ns'"


def test_retention_cutoff_is_in_kronos_ticks() -> None:
    assert retention_cutoff(2, 50_000_000) == 30_000_000


def test_checkpoint_compare_and_set() -> None:
    assert checkpoint_matches(7, None)
    assert checkpoint_matches(0, 0)
    assert checkpoint_matches(7, 7)
    assert not checkpoint_matches(7, 0)
    assert not checkpoint_matches(0, 7)


def test_lease_compare_and_set_bumps_the_version() -> None:
    assert granted_lease(2, "w", 9, 4) == Lease(2, "w", 9, 5)
    assert lease_after_cas(None, 2, "w", (9, 1), 0) == Lease(2, "w", 10, 1)
    stored = Lease(2, "w", 50, 4)
    assert lease_after_cas(stored, 2, None, (9, None), 4) == Lease(2, None, 50, 5)
    assert lease_after_cas(stored, 2, "w", (9, None), 4, "c") == Lease(2, "w", 50, 5, "c")
    assert lease_after_cas(Lease(2, "w", 9, 5), 2, "w", (9, 1), 4) is None
    assert lease_expiry(100, None, None) == 100  # nothing stored to keep: already over


@pytest.mark.parametrize("owner", ["w", "", "a|b", None])
@pytest.mark.parametrize("claimant", [None, "c", "c|d"])
def test_lease_text_round_trips(owner: str | None, claimant: str | None) -> None:
    lease = Lease(3, owner or None if claimant else owner, 123, 7, claimant)
    text = lease_text(lease)
    assert text.startswith("7|123|")
    assert lease_from_text(3, text) == lease


def test_owner_and_claimant_share_one_text() -> None:
    assert stored_owner("a", None) == "a" and owner_and_claimant("a") == ("a", None)
    assert owner_and_claimant(stored_owner("a", "b")) == ("a", "b")
    assert owner_and_claimant(stored_owner(None, "b")) == (None, "b")
    assert owner_and_claimant(None) == (None, None)


def test_read_result_without_and_with_records() -> None:
    empty = read_result([], 41, None)
    assert (empty.records, empty.next_position, empty.millis_behind_latest) == (
        [],
        Position.after_sequence(41),
        0,
    )
    records = [StoredRecord(0, 42, "k", b"x", 10_000), StoredRecord(0, 43, "k", b"y", 20_000)]
    got = read_result(records, 41, 50_000)
    assert got.records == records
    assert got.next_position == Position.after_sequence(43)
    assert got.millis_behind_latest == 3


def test_stream_description_spans_the_hash_key_space() -> None:
    described = stream_description("ns", "s", [shard_bounds(0, 5), (9, 12, 20)], 60)
    ranges = hash_key_ranges(2)
    assert [d.shard for d in described.shards] == [0, 1]
    first, second = described.shards
    assert (first.starting_hash_key, first.ending_hash_key) == (
        ranges[0].starting,
        ranges[0].ending,
    )
    assert (first.trimmed_through, first.starting_sequence, first.ending_sequence) == (0, 1, 5)
    assert (second.trimmed_through, second.starting_sequence, second.ending_sequence) == (
        9,
        12,
        20,
    )
    assert described.retention_seconds == 60


class _Info:
    def __init__(self, shards: int) -> None:
        self.shards = shards


async def test_stream_info_cache_loads_once_and_forgets() -> None:
    loads: list[tuple[str, str]] = []

    async def load(namespace: str, stream: str) -> _Info:
        loads.append((namespace, stream))
        if stream == "missing":
            raise stream_not_found(namespace, stream)
        return _Info(2)

    cache = StreamInfoCache(load)
    first = await cache.stream("ns", "s")
    assert await cache.shard("ns", "s", 1) is first
    assert loads == [("ns", "s")]
    with pytest.raises(ShardNotFound):
        await cache.shard("ns", "s", 2)
    with pytest.raises(StreamNotFound):
        await cache.stream("ns", "missing")
    with pytest.raises(ValidationError):
        await cache.stream("ns", "bad name!")
    assert loads == [("ns", "s"), ("ns", "missing")]
    cache.forget("ns", "s")
    assert await cache.stream("ns", "s") is not first


def test_read_budget_takes_the_longest_run_that_fits() -> None:
    budget = ReadBudget(limit=10, max_bytes=100)
    assert budget.admit_many([40, 60, 1]) == 2  # exactly full: nothing more, not even 1 byte
    assert budget.full and not budget.fits(0)
    one = ReadBudget(limit=10, max_bytes=100)
    assert one.admit_many([500, 1]) == 1  # the first record always goes in
    assert one.full
    few = ReadBudget(limit=2, max_bytes=100)
    assert few.admit_many([1, 1, 1]) == 2
    assert few.full
    mixed = ReadBudget(limit=10, max_bytes=100)
    assert mixed.admit(30) and mixed.admit(0) and not mixed.admit(71)
    assert (mixed.taken, mixed.bytes_left, mixed.records_left) == (2, 70, 8)
    assert mixed.admit_many([70, 0]) == 1  # then spent
    assert ReadBudget(limit=5, max_bytes=10).admit_many([]) == 0


def test_read_limits_and_numbers_name_their_field() -> None:
    with pytest.raises(ValidationError) as info:
        check_limit(1, 0)
    assert info.value.field == "max_bytes"
    check_checkpoint(MAX_SEQUENCE, 0)
    for sequence, expected, field in ((MAX_SEQUENCE + 1, None, "sequence"), (1, -1, "expected")):
        with pytest.raises(ValidationError) as bad:
            check_checkpoint(sequence, expected)
        assert bad.value.field == field
    check_lease_version(MAX_SEQUENCE - 1)
    with pytest.raises(ValidationError) as version:
        check_lease_version(MAX_SEQUENCE)
    assert version.value.field == "expected_version"
    assert parse_sequence(str(MAX_SEQUENCE), "sequence") == MAX_SEQUENCE
    for text in (str(MAX_SEQUENCE + 1), "9" * 5000, "\u0661", "-1", "1.0"):
        with pytest.raises(ValidationError) as parsed:
            parse_sequence(text, "sequence")
        assert parsed.value.field == "sequence"
    assert parse_sequence("0" * 30 + "7", "sequence") == 7
    with pytest.raises(ValidationError):
        Position.at_sequence(MAX_SEQUENCE + 1)
