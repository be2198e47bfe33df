from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from aion.core.sharding import HASH_KEY_SPACE, hash_key, hash_key_ranges, shard_for_key


@given(st.text(), st.integers(min_value=1, max_value=64))
def test_key_lands_in_the_range_of_its_shard(key: str, shards: int) -> None:
    ranges = hash_key_ranges(shards)
    shard = shard_for_key(key, shards)
    assert ranges[shard].starting <= hash_key(key) <= ranges[shard].ending


@given(st.integers(min_value=1, max_value=200))
def test_ranges_cover_the_space_without_gaps(shards: int) -> None:
    ranges = hash_key_ranges(shards)
    assert ranges[0].starting == 0
    assert ranges[-1].ending == HASH_KEY_SPACE - 1
    for a, b in itertools.pairwise(ranges):
        assert b.starting == a.ending + 1


def test_known_md5_value() -> None:
    # md5("a") = 0cc175b9c0f1b6a831c399e269772661
    assert hash_key("a") == 0x0CC175B9C0F1B6A831C399E269772661
    assert shard_for_key("a", 2) == 0
    assert shard_for_key("a", 1) == 0


def test_keys_spread_over_shards() -> None:
    counts = [0] * 4
    for i in range(4000):
        counts[shard_for_key(f"user-{i}", 4)] += 1
    assert min(counts) > 800
