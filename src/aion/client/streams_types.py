"""Value types of the native streams client (no I/O): what goes out and what comes back.

Sequence numbers and hash keys are ints here and decimal strings on the wire; times are kronos
ticks (100 ns since the Unix epoch).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "GroupMembership",
    "LeaseInfo",
    "OutgoingRecord",
    "Placement",
    "ReadBatch",
    "ShardInfo",
    "StreamInfo",
    "StreamRecord",
]


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    """A record to put: its partition key, its bytes, and an optional 128-bit hash key that
    picks the shard instead of the key's MD5."""

    partition_key: str
    data: bytes
    explicit_hash_key: int | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a put record went."""

    shard: int
    shard_id: str
    sequence: int


@dataclass(frozen=True, slots=True)
class ShardInfo:
    """One shard of a stream."""

    shard: int
    shard_id: str
    starting_hash_key: int
    ending_hash_key: int
    starting_sequence: int
    ending_sequence: int


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """A stream: its namespace, name, shards and retention (None: forever)."""

    namespace: str
    name: str
    shards: list[ShardInfo]
    retention_seconds: int | None


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """A record read from a shard (``arrival_time`` in kronos ticks)."""

    shard: int
    sequence: int
    partition_key: str
    arrival_time: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ReadBatch:
    """One read: the records, the iterator to continue with, and the lag in milliseconds."""

    records: list[StreamRecord]
    next_iterator: str
    millis_behind_latest: int


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """A consumer-group lease on a shard (``expires_at`` in kronos ticks on the store's clock;
    ``claimant``: a worker waiting for the shard, which the owner hands over)."""

    shard: int
    owner: str | None
    expires_at: int
    version: int
    claimant: str | None = None


@dataclass(frozen=True, slots=True)
class GroupMembership:
    """A consumer-group worker's standing after join or heartbeat: the shards it owns now,
    their leases, how long they last, how often to heartbeat, and the server's kronos time."""

    worker: str
    shards: list[int]
    leases: list[LeaseInfo]
    lease_seconds: float
    heartbeat_seconds: float
    server_time: int
