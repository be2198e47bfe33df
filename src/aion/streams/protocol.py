"""The StreamLog contract: sharded, positional streams with Kinesis semantics.

Pure types and one Protocol, no I/O. The backends live in :mod:`aion.streams.backends`
(memory, Redis, NATS, and SQLite and PostgreSQL over the event tables of ``aion.storage``);
:mod:`aion.streams.rules` holds what they all decide the same way.

Vocabulary (DESIGN.md): a *stream* in a *namespace* has N *shards*; a partition key maps to a
shard by MD5 into 128-bit hash-key ranges; every shard hands out strictly increasing integer
*sequence numbers* (shown as decimal strings at the API edges; not necessarily contiguous:
Redis and NATS derive them from their own ids). Times are kronos times (100 ns ticks).

Each shard has a *trim mark*: the highest sequence number removed by trimming (0 when none).
``AT_SEQUENCE_NUMBER(s)`` needs ``trim mark < s <= last``; ``AFTER_SEQUENCE_NUMBER(s)`` needs
``trim mark <= s <= last``. Anything else raises :class:`SequenceTrimmed` or
:class:`SequencePastEnd`, so a consumer that fell behind retention learns it lost records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

import msgspec

from aion.core.events import validate_namespace, validate_stream_name
from aion.core.sharding import HASH_KEY_SPACE, hash_key
from aion.errors import (
    SequencePastEnd,
    SequenceTrimmed,
    ShardNotFound,
    StreamNotFound,
    ValidationError,
)

__all__ = [
    "LATEST",
    "MAX_PARTITION_KEY_LENGTH",
    "MAX_READ_BYTES",
    "MAX_RECORD_BYTES",
    "MAX_RETENTION_SECONDS",
    "MAX_SEQUENCE",
    "MAX_TIMESTAMP",
    "TRIM_HORIZON",
    "AppendRecord",
    "Lease",
    "Position",
    "PositionKind",
    "ReadResult",
    "SequencePastEnd",
    "SequenceTrimmed",
    "ShardDescription",
    "ShardNotFound",
    "StoredRecord",
    "StreamDescription",
    "StreamLog",
    "StreamNotFound",
    "StreamStatus",
    "check_new_stream",
    "check_records",
    "check_stream",
    "format_sequence",
    "millis_behind",
    "parse_sequence",
    "shard_of",
    "start_after",
]

MAX_RECORD_BYTES = 1 << 20
"""A record's data plus its partition key may hold at most 1 MiB (the Kinesis limit)."""

MAX_PARTITION_KEY_LENGTH = 256
"""Partition keys are 1 to 256 Unicode characters (the Kinesis limit)."""

MAX_READ_BYTES = 10 * 1024 * 1024
"""One read returns at most 10 MiB of record data (the Kinesis GetRecords limit); the rest
comes with the next read. A read still returns one record when that one alone is larger."""

MAX_SEQUENCE = (1 << 63) - 1
"""Sequence numbers are signed 64-bit integers (the SQL backends keep them in BIGINT)."""

MAX_TIMESTAMP = MAX_SEQUENCE // 100
"""The latest kronos time an AT_TIMESTAMP position may name, 2262-04-11T23:47:16Z: the last
instant 64-bit nanoseconds since the epoch hold (JetStream reads start times so). The earliest
is 0, the Unix epoch: no record arrived before it."""

MAX_RETENTION_SECONDS = 100 * 365 * 86_400
"""A stream keeps records at most 100 years (longer retention is what None, forever, is for)."""


class PositionKind(StrEnum):
    """Where a read starts (the Kinesis iterator type names)."""

    TRIM_HORIZON = "TRIM_HORIZON"
    LATEST = "LATEST"
    AT_SEQUENCE_NUMBER = "AT_SEQUENCE_NUMBER"
    AFTER_SEQUENCE_NUMBER = "AFTER_SEQUENCE_NUMBER"
    AT_TIMESTAMP = "AT_TIMESTAMP"


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a shard. ``value`` is the sequence number (AT/AFTER) or the kronos time
    (AT_TIMESTAMP); it is 0 for TRIM_HORIZON and LATEST."""

    kind: PositionKind
    value: int = 0

    @classmethod
    def at_sequence(cls, sequence: int) -> Position:
        """The record with this sequence number, then the ones after it."""
        return cls(PositionKind.AT_SEQUENCE_NUMBER, sequence)

    @classmethod
    def after_sequence(cls, sequence: int) -> Position:
        """The records after this sequence number (0: from the first record ever)."""
        return cls(PositionKind.AFTER_SEQUENCE_NUMBER, sequence)

    @classmethod
    def at_timestamp(cls, time: int) -> Position:
        """The first record that arrived at or after this kronos time."""
        return cls(PositionKind.AT_TIMESTAMP, time)

    def __post_init__(self) -> None:
        highest = MAX_TIMESTAMP if self.kind is PositionKind.AT_TIMESTAMP else MAX_SEQUENCE
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise ValidationError(f"a {self.kind} position must be an integer", "position")
        if not 0 <= self.value <= highest:
            raise ValidationError(
                f"a {self.kind} position must be from 0 to {highest}, not {self.value}", "position"
            )


TRIM_HORIZON = Position(PositionKind.TRIM_HORIZON)
"""The oldest record still retained."""

LATEST = Position(PositionKind.LATEST)
"""Only records appended after the read that uses it."""


@dataclass(frozen=True, slots=True)
class AppendRecord:
    """One record to append. ``explicit_hash_key`` (a 128-bit integer) overrides the MD5 of
    ``partition_key`` when choosing the shard, as Kinesis' ExplicitHashKey does."""

    partition_key: str
    data: bytes
    explicit_hash_key: int | None = None


class StoredRecord(msgspec.Struct, frozen=True):
    """A record read back: where it sits, its key and bytes, and its arrival kronos time.

    A frozen msgspec Struct rather than a frozen dataclass: reads build one per record, and a
    Struct is built about four times faster (a frozen dataclass sets each field through
    ``object.__setattr__``)."""

    shard: int
    sequence: int
    partition_key: str
    data: bytes
    arrival_time: int


@dataclass(frozen=True, slots=True)
class ReadResult:
    """One read of a shard: the records, where to read next, and how far behind the newest
    record of the shard the last returned record is, in milliseconds (0 when caught up)."""

    records: list[StoredRecord]
    next_position: Position
    millis_behind_latest: int


class StreamStatus(StrEnum):
    """A stream's lifecycle state (the Kinesis names Aion uses)."""

    ACTIVE = "ACTIVE"
    DELETING = "DELETING"


@dataclass(frozen=True, slots=True)
class ShardDescription:
    """One shard: its number, its inclusive hash-key range, its first retained and last
    handed-out sequence numbers (``ending_sequence`` is 0 before the first append), and the
    trim mark (the highest sequence removed by retention, 0 when none)."""

    shard: int
    starting_hash_key: int
    ending_hash_key: int
    starting_sequence: int
    ending_sequence: int
    trimmed_through: int = 0

    @property
    def shard_id(self) -> str:
        """The Kinesis-style id, ``shardId-000000000003``."""
        return f"shardId-{self.shard:012d}"


@dataclass(frozen=True, slots=True)
class StreamDescription:
    """A stream: its shards (by number), retention (None: keep forever) and status."""

    namespace: str
    stream: str
    shards: list[ShardDescription] = field(default_factory=list)
    retention_seconds: int | None = None
    status: StreamStatus = StreamStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class Lease:
    """Who owns a shard within a consumer group until when (kronos time on the store's clock).

    ``version`` grows by one on every change; a change names the version it expects, so two
    workers racing for a shard cannot both win (compare-and-set). ``owner`` None: released.
    ``claimant``: a worker that asked for the shard; the owner hands it over (finishes its
    batch, checkpoints, releases) at its next heartbeat. On a released lease it reserves the
    shard for the claimant until ``expires_at``.
    """

    shard: int
    owner: str | None
    expires_at: int
    version: int
    claimant: str | None = None


def format_sequence(sequence: int) -> str:
    """A sequence number as the API edges show it: a decimal string."""
    return str(sequence)


def parse_sequence(text: str, field_name: str = "SequenceNumber") -> int:
    """A decimal sequence-number string back to an int, refusing anything else (sequence
    numbers run from 0 to :data:`MAX_SEQUENCE`)."""
    if not isinstance(text, str) or not text.isdigit() or not text.isascii():
        raise ValidationError(f"{field_name} must be a decimal string, not {text!r}", field_name)
    # Compared as text first: int() of a long digit string is slow (quadratic).
    if len(text.lstrip("0")) > len(str(MAX_SEQUENCE)) or int(text) > MAX_SEQUENCE:
        raise ValidationError(
            f"{field_name} must be at most {MAX_SEQUENCE} (a signed 64-bit integer)", field_name
        )
    return int(text)


def check_stream(namespace: str, stream: str) -> None:
    """Validate a namespace and a stream name (the DESIGN.md name rule)."""
    validate_namespace(namespace)
    validate_stream_name(stream)


def check_new_stream(
    namespace: str, stream: str, shards: int, retention_seconds: int | None
) -> None:
    """Validate the arguments of ``create_stream``."""
    check_stream(namespace, stream)
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= 10_000:
        raise ValidationError(
            f"shards must be an integer from 1 to 10000, not {shards!r}", "shards"
        )
    if retention_seconds is not None and (
        isinstance(retention_seconds, bool)
        or not isinstance(retention_seconds, int)
        or not 1 <= retention_seconds <= MAX_RETENTION_SECONDS
    ):
        raise ValidationError(
            f"retention_seconds must be an integer from 1 to {MAX_RETENTION_SECONDS} "
            f"(100 years) or None, not {retention_seconds!r}",
            "retention_seconds",
        )


def check_records(records: Sequence[AppendRecord]) -> None:
    """Refuse a batch with any bad record, naming the field and the record's index."""
    for i, record in enumerate(records):
        key = record.partition_key
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_PARTITION_KEY_LENGTH:
            raise ValidationError(
                f"records[{i}].partition_key must be 1 to {MAX_PARTITION_KEY_LENGTH} characters",
                "partition_key",
            )
        if not isinstance(record.data, bytes | bytearray | memoryview):
            raise ValidationError(f"records[{i}].data must be bytes", "data")
        size = len(record.data) + len(key.encode("utf-8"))
        if size > MAX_RECORD_BYTES:
            raise ValidationError(
                f"records[{i}].data with its partition key is {size} bytes; "
                f"the limit is {MAX_RECORD_BYTES} (1 MiB)",
                "data",
            )
        h = record.explicit_hash_key
        if h is not None and (isinstance(h, bool) or not 0 <= h < HASH_KEY_SPACE):
            raise ValidationError(
                f"records[{i}].explicit_hash_key must be an integer in [0, 2**128)",
                "explicit_hash_key",
            )


def shard_of(record: AppendRecord, shards: int) -> int:
    """The shard owning the record's hash key among ``shards`` equal ranges."""
    if shards == 1:
        return 0
    h = record.explicit_hash_key
    if h is None:
        h = hash_key(record.partition_key)
    return min(h // (HASH_KEY_SPACE // shards), shards - 1)


def start_after(position: Position, trimmed_through: int, last: int) -> int:
    """The exclusive lower bound (read sequences ``> bound``) that ``position`` means for a
    shard with this trim mark and last sequence; AT_TIMESTAMP is the backend's business."""
    kind, value = position.kind, position.value
    if kind is PositionKind.TRIM_HORIZON:
        return trimmed_through
    if kind is PositionKind.LATEST:
        return last
    if kind is PositionKind.AT_SEQUENCE_NUMBER:
        if value > last:
            raise SequencePastEnd(
                f"sequence number {value} is past the shard's last one ({last})", "position"
            )
        if value <= trimmed_through:
            raise SequenceTrimmed(
                f"sequence number {value} was trimmed (trimmed through {trimmed_through})",
                "position",
            )
        return value - 1
    if kind is PositionKind.AFTER_SEQUENCE_NUMBER:
        if value > last:
            raise SequencePastEnd(
                f"sequence number {value} is past the shard's last one ({last})", "position"
            )
        if value < trimmed_through:
            raise SequenceTrimmed(
                f"records after {value} were trimmed (trimmed through {trimmed_through})",
                "position",
            )
        return value
    raise ValueError(f"start_after does not resolve {kind} positions")


def millis_behind(last_returned_time: int | None, latest_time: int | None) -> int:
    """How many milliseconds the last returned record lags the shard's newest one."""
    if last_returned_time is None or latest_time is None:
        return 0
    return max(0, (latest_time - last_returned_time) // 10_000)


@runtime_checkable
class StreamLog(Protocol):
    """A backend that keeps sharded, positional streams (Kinesis semantics).

    Every method is a coroutine. Unknown streams raise :class:`StreamNotFound`, unknown shards
    :class:`ShardNotFound`, bad input a ``ValidationError`` naming the field, an outage
    ``BackendUnavailable`` naming the backend.
    """

    async def open(self) -> None:
        """Connect and create what is missing. Idempotent."""

    async def close(self) -> None:
        """Release connections, threads and waiters. Idempotent."""

    async def create_stream(
        self, namespace: str, stream: str, shards: int = 1, retention_seconds: int | None = None
    ) -> StreamDescription:
        """Create a stream; if it exists with the same shard count, return it unchanged
        (idempotent), with a different one raise ``ValidationError`` (field ``shards``)."""

    async def describe_stream(self, namespace: str, stream: str) -> StreamDescription:
        """The stream's shards, hash-key ranges, sequence bounds, retention and status."""

    async def delete_stream(self, namespace: str, stream: str) -> None:
        """Remove the stream, its records, checkpoints and leases."""

    async def list_streams(self, namespace: str) -> list[str]:
        """The names of the namespace's streams, sorted."""

    async def append(
        self, namespace: str, stream: str, records: Sequence[AppendRecord]
    ) -> list[tuple[int, int]]:
        """Append durably, all or none; return ``(shard, sequence)`` per record, in order.
        Within one call, records of one shard get increasing sequence numbers in input order."""

    async def read(
        self,
        namespace: str,
        stream: str,
        shard: int,
        position: Position,
        limit: int = 1000,
        wait_seconds: float = 0.0,
        max_bytes: int = MAX_READ_BYTES,
    ) -> ReadResult:
        """Up to ``limit`` records of one shard from ``position``, in sequence order.

        The records' data adds up to at most ``max_bytes``: the read returns the longest run
        from ``position`` that fits, and always the first record (so a record larger than
        ``max_bytes`` is still read, alone). Backends apply the cap while reading, so a shard
        of large records never costs more memory than about one read's worth.

        With ``wait_seconds > 0`` and nothing to return yet, wait up to that long for an append
        (long-poll). ``next_position`` is always ``AFTER_SEQUENCE_NUMBER`` of the last record
        returned or, when none, of the shard's last sequence number as seen by this read
        (for LATEST), or the same start (TRIM_HORIZON, AT_*), so reads can be chained.
        """

    async def trim(self, namespace: str, stream: str) -> int:
        """Drop records older than the stream's retention; return how many went (backends
        that expire records on their own may return 0)."""

    async def get_checkpoints(self, namespace: str, stream: str, group: str) -> dict[int, int]:
        """The consumer group's checkpoint per shard (shards without one are absent)."""

    async def set_checkpoint(
        self,
        namespace: str,
        stream: str,
        group: str,
        shard: int,
        sequence: int,
        expected: int | None = None,
    ) -> bool:
        """Record that the group processed ``shard`` through ``sequence``. With ``expected``
        set, only if the stored checkpoint equals it (0: none stored yet); return success."""

    async def get_leases(self, namespace: str, stream: str, group: str) -> dict[int, Lease]:
        """The consumer group's leases per shard (shards never leased are absent)."""

    async def lease_time(self, namespace: str, stream: str) -> int:
        """The store's kronos time now: the clock the stream's leases expire by (PostgreSQL
        ``clock_timestamp()``, Redis ``TIME``, the JetStream server's message time; memory and
        SQLite, one machine, the local clock). Never the caller's clock, so servers whose
        clocks disagree still agree on which leases expired."""

    async def set_lease(
        self,
        namespace: str,
        stream: str,
        group: str,
        shard: int,
        owner: str | None,
        lease_seconds: float | None,
        expected_version: int,
        claimant: str | None = None,
    ) -> Lease | None:
        """Compare-and-set a lease: write ``owner`` and ``claimant`` only if the stored lease
        has ``expected_version`` (0: no lease stored); return the new lease (version
        ``expected_version + 1``) or None when another worker changed it first.

        The lease runs ``lease_seconds`` (more than 0, at most 3600) from the store's clock,
        computed by the store in the same step; None keeps the stored expiry (a claim on
        someone else's lease). No caller-side time goes in."""
