"""Partition key → shard, as Kinesis does it: MD5 of the key read as a 128-bit integer,
placed into N equal hash-key ranges."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["HASH_KEY_SPACE", "HashKeyRange", "hash_key", "hash_key_ranges", "shard_for_key"]

HASH_KEY_SPACE = 1 << 128


@dataclass(frozen=True, slots=True)
class HashKeyRange:
    """The inclusive range of 128-bit hash keys one shard owns."""

    starting: int
    ending: int


def hash_key(partition_key: str) -> int:
    """The 128-bit hash key of a partition key (MD5 of its UTF-8 bytes, big-endian)."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def hash_key_ranges(shards: int) -> list[HashKeyRange]:
    """The equal split of the hash-key space into ``shards`` ranges, lowest first."""
    if shards < 1:
        raise ValueError("a stream needs at least one shard")
    width = HASH_KEY_SPACE // shards
    return [
        HashKeyRange(i * width, HASH_KEY_SPACE - 1 if i == shards - 1 else (i + 1) * width - 1)
        for i in range(shards)
    ]


def shard_for_key(partition_key: str, shards: int) -> int:
    """The shard number (0-based) that owns ``partition_key`` among ``shards`` equal ranges."""
    if shards < 1:
        raise ValueError("a stream needs at least one shard")
    return min(hash_key(partition_key) // (HASH_KEY_SPACE // shards), shards - 1)
