"""What every StreamLog backend decides the same way, written once.

:mod:`aion.streams.protocol` holds the contract; this module holds the rules the backends apply
around their own I/O: the checks that run before a call touches storage (a shard number, a
read limit, a checkpoint, a stream re-created with another shard count), the error a missing
stream raises, how much more a read may return (:class:`ReadBudget`), the compare-and-set
decisions for checkpoints and leases, the text form of a lease in the key-value backends
(Redis, NATS), how a read's result and a stream's description are put together from what a
backend looked up, and the per-process cache of stream facts.

Every backend in :mod:`aion.streams.backends` uses it. Nothing here does I/O:
:class:`StreamInfoCache` awaits a loader the backend hands it.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar

from aion.core.sharding import hash_key_ranges
from aion.core.time import TICKS_PER_SECOND
from aion.errors import StaleStream, ValidationError
from aion.streams.protocol import (
    MAX_SEQUENCE,
    Lease,
    Position,
    PositionKind,
    ReadResult,
    SequencePastEnd,
    SequenceTrimmed,
    ShardDescription,
    ShardNotFound,
    StoredRecord,
    StreamDescription,
    StreamNotFound,
    check_stream,
    millis_behind,
)

__all__ = [
    "MAX_LEASE_SECONDS",
    "ReadBudget",
    "ShardBounds",
    "StaleStream",
    "StreamInfoCache",
    "check_checkpoint",
    "check_checkpoint_end",
    "check_floor",
    "check_lease_request",
    "check_lease_seconds",
    "check_lease_version",
    "check_limit",
    "check_shard",
    "check_shard_count",
    "checkpoint_matches",
    "fresh_retry",
    "granted_lease",
    "lease_after_cas",
    "lease_expiry",
    "lease_from_text",
    "lease_text",
    "new_incarnation",
    "owner_and_claimant",
    "read_result",
    "retention_cutoff",
    "shard_bounds",
    "stored_owner",
    "stream_description",
    "stream_not_found",
]

ShardBounds = tuple[int, int, int]
"""A shard's ``(trim mark, first retained sequence, last sequence)``."""


def stream_not_found(namespace: str, stream: str) -> StreamNotFound:
    """The error for a stream that does not exist (raise it)."""
    return StreamNotFound(f"no stream {stream!r} in namespace {namespace!r}")


T = TypeVar("T")


async def fresh_retry(
    attempt: Callable[[], Awaitable[T]], forget: Callable[[], None], namespace: str, stream: str
) -> T:
    """Run ``attempt`` (which looks the stream up in its cache); when the cached stream turned
    out stale, ``forget`` the cache and run it once more. Stale twice: the stream is gone."""
    for _ in range(2):
        try:
            return await attempt()
        except StaleStream:
            forget()
    raise stream_not_found(namespace, stream)


def new_incarnation() -> str:
    """A fresh id for one making of a stream: the key-value backends (Redis, NATS) keep it with
    the stream and check it atomically with every append, so a write meant for a stream that
    was since deleted (and perhaps made again) is refused instead of acknowledged."""
    return secrets.token_hex(6)


def check_floor(position: Position, floor: int) -> None:
    """Refuse a sequence-number position from before the stream's incarnation was made (a
    backend whose sequence numbers carry time keeps that ``floor``; 0: none): it came from
    a stream of the same name that was deleted, and would otherwise go on, silently, in the
    new one. ``AFTER_SEQUENCE_NUMBER(0)`` (from the first record ever) is always allowed."""
    if position.kind not in (PositionKind.AT_SEQUENCE_NUMBER, PositionKind.AFTER_SEQUENCE_NUMBER):
        return
    if 0 < position.value < floor:
        raise SequenceTrimmed(
            f"sequence number {position.value} is older than the stream: a stream of this "
            "name was deleted and made again since (read from TRIM_HORIZON)",
            "position",
        )


def check_shard(stream: str, shard: int, shards: int) -> None:
    """Refuse a shard number that is not an int in ``[0, shards)``."""
    if isinstance(shard, bool) or not isinstance(shard, int) or not 0 <= shard < shards:
        raise ShardNotFound(f"stream {stream!r} has no shard {shard!r}")


def check_limit(limit: int, max_bytes: int = 1) -> None:
    """Refuse a read limit or a read's byte cap below 1."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError("limit must be an integer of at least 1", "limit")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValidationError("max_bytes must be an integer of at least 1", "max_bytes")


def _check_int(value: int | None, name: str, highest: int = MAX_SEQUENCE) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= highest:
        raise ValidationError(f"{name} must be an integer from 0 to {highest}", name)


def check_checkpoint(sequence: int, expected: int | None) -> None:
    """Refuse a checkpoint (or the one it expects) outside the sequence numbers' range, before
    it reaches a 64-bit column."""
    _check_int(sequence, "sequence")
    _check_int(expected, "expected")


def check_checkpoint_end(sequence: int, last: int) -> None:
    """Refuse a checkpoint past the shard's last sequence number: a worker starting from it
    would find no position to read from (``SequencePastEnd``, field ``sequence``)."""
    if sequence > last:
        raise SequencePastEnd(
            f"checkpoint {sequence} is past the shard's last sequence number ({last})",
            "sequence",
        )


def check_lease_version(expected_version: int) -> None:
    """Refuse an expected lease version that is negative, or so large that the version after
    it would not fit in a 64-bit column."""
    _check_int(expected_version, "expected_version", MAX_SEQUENCE - 1)


MAX_LEASE_SECONDS = 3600.0
"""The longest a lease runs from one renewal."""


def check_lease_seconds(lease_seconds: float) -> float:
    """Refuse a lease duration outside ``(0, MAX_LEASE_SECONDS]`` seconds."""
    if (
        isinstance(lease_seconds, bool)
        or not isinstance(lease_seconds, int | float)
        or not 0 < lease_seconds <= MAX_LEASE_SECONDS
    ):
        raise ValidationError(
            f"lease_seconds must be more than 0 and at most {MAX_LEASE_SECONDS:g}",
            "lease_seconds",
        )
    return float(lease_seconds)


def check_lease_request(
    expected_version: int, lease_seconds: float | None, owner: str | None, claimant: str | None
) -> int | None:
    """Refuse a bad ``set_lease`` before it reaches the store; return the lease's duration in
    kronos ticks (None: keep the stored expiry). Names hold no line break: the backends keep
    owner and claimant in one text (:func:`stored_owner`)."""
    check_lease_version(expected_version)
    for name, value in (("owner", owner), ("claimant", claimant)):
        if value is not None and (not isinstance(value, str) or not value or "\n" in value):
            raise ValidationError(f"{name} must be a non-empty name without line breaks", name)
    if lease_seconds is None:
        return None
    check_lease_seconds(lease_seconds)
    # Even, so the Redis script's double arithmetic on it stays exact.
    return round(lease_seconds * TICKS_PER_SECOND / 2) * 2


def lease_expiry(now: int, ttl: int | None, stored: int | None) -> int:
    """A lease's new expiry on the store's clock: ``now + ttl``; with ``ttl`` None the stored
    expiry (``now`` when nothing is stored: already expired)."""
    if ttl is not None:
        return now + ttl
    return now if stored is None else stored


def stored_owner(owner: str | None, claimant: str | None) -> str | None:
    """Owner and claimant as the one text the backends keep in the owner column or field:
    the owner alone, or ``owner + "\\n" + claimant`` (an empty owner part: released)."""
    if claimant is None:
        return owner
    return f"{owner or ''}\n{claimant}"


def owner_and_claimant(text: str | None) -> tuple[str | None, str | None]:
    """The owner and claimant back from :func:`stored_owner`."""
    if text is None or "\n" not in text:
        return text, None
    owner, _, claimant = text.partition("\n")
    return owner or None, claimant


class ReadBudget:
    """How much more one read may return: ``limit`` records and ``max_bytes`` of their data.

    Backends offer the records in order to :meth:`admit` and stop at the first refusal, or as
    soon as :attr:`full` says nothing more can come. The first record is always admitted, so a
    read makes progress even past a record larger than the whole budget.
    """

    __slots__ = ("bytes_left", "records_left", "taken")

    def __init__(self, limit: int, max_bytes: int) -> None:
        self.records_left = limit
        self.bytes_left = max_bytes
        self.taken = 0

    @property
    def full(self) -> bool:
        """Whether the read must stop: its limit reached, or its bytes spent."""
        return self.records_left <= 0 or (self.taken > 0 and self.bytes_left <= 0)

    def fits(self, size: int) -> bool:
        """Whether a record with ``size`` bytes of data would be admitted next."""
        return not self.full and (self.taken == 0 or size <= self.bytes_left)

    def admit(self, size: int) -> bool:
        """Count a record with ``size`` bytes of data in, if it fits; say whether it did."""
        if not self.fits(size):
            return False
        self.records_left -= 1
        self.bytes_left -= size
        self.taken += 1
        return True

    def admit_many(self, sizes: Sequence[int]) -> int:
        """Count records in, in order, while they fit; return how many went in (the rest,
        from the first refused, stay out)."""
        total = sum(sizes)
        if (
            sizes
            and not self.full
            and len(sizes) <= self.records_left
            and (total < self.bytes_left or (total == self.bytes_left and sizes[-1] > 0))
        ):
            # All fit (the common case of small records), as one by one would find: no record
            # comes after the bytes are spent (empty ones included).
            self.records_left -= len(sizes)
            self.bytes_left -= total
            self.taken += len(sizes)
            return len(sizes)
        count = 0
        for size in sizes:
            if not self.admit(size):
                break
            count += 1
        return count


def check_shard_count(stream: str, existing: int, shards: int) -> None:
    """Refuse to re-create a stream that exists with ``existing`` shards with another count
    (the same count makes ``create_stream`` idempotent)."""
    if existing != shards:
        raise ValidationError(
            f"stream {stream!r} exists with {existing} shards, not {shards}", "shards"
        )


def retention_cutoff(retention_seconds: int, now: int) -> int:
    """The kronos time before which records fall out of a retention of that many seconds."""
    return now - retention_seconds * TICKS_PER_SECOND


def checkpoint_matches(stored: int, expected: int | None) -> bool:
    """Whether a checkpoint write may go ahead: always without ``expected``, else only when
    the stored checkpoint (0: none stored) equals it."""
    return expected is None or stored == expected


def granted_lease(
    shard: int,
    owner: str | None,
    expires_at: int,
    expected_version: int,
    claimant: str | None = None,
) -> Lease:
    """The lease a compare-and-set at ``expected_version`` writes (the next version)."""
    return Lease(shard, owner, expires_at, expected_version + 1, claimant)


def lease_after_cas(
    stored: Lease | None,
    shard: int,
    owner: str | None,
    expiry: tuple[int, int | None],
    expected_version: int,
    claimant: str | None = None,
) -> Lease | None:
    """The lease to write when the stored one (None: none stored) has the expected version
    (0: none stored); None when another worker changed it first. ``expiry`` is the store's
    ``(now, ttl)`` (see :func:`lease_expiry`)."""
    if (0 if stored is None else stored.version) != expected_version:
        return None
    now, ttl = expiry
    expires_at = lease_expiry(now, ttl, None if stored is None else stored.expires_at)
    return granted_lease(shard, owner, expires_at, expected_version, claimant)


def lease_text(lease: Lease) -> str:
    """A lease as the key-value backends keep it: ``"version|expires_at|=owner"``, the owner
    part being :func:`stored_owner` (owner and claimant).

    The ``=`` marks a present owner part, so an empty one and a released lease differ; the
    version leads, so a compare-and-set script can read it alone.
    """
    text = stored_owner(lease.owner, lease.claimant)
    owner = "" if text is None else "=" + text
    return f"{lease.version}|{lease.expires_at}|{owner}"


def lease_from_text(shard: int, text: str) -> Lease:
    """The lease of ``shard`` back from :func:`lease_text`."""
    version, expires, owner = text.split("|", 2)
    name, claimant = owner_and_claimant(owner[1:] if owner else None)
    return Lease(shard, name, int(expires), int(version), claimant)


def read_result(records: list[StoredRecord], bound: int, latest_time: int | None) -> ReadResult:
    """A read's answer: without records, ``AFTER_SEQUENCE_NUMBER(bound)`` (read again from the
    same place) and no lag; else the position after the last record and its lag behind the
    shard's newest record, which arrived at ``latest_time``."""
    if not records:
        return ReadResult([], Position.after_sequence(bound), 0)
    last = records[-1]
    return ReadResult(
        records,
        Position.after_sequence(last.sequence),
        millis_behind(last.arrival_time, latest_time),
    )


def shard_bounds(trimmed_through: int, last: int) -> ShardBounds:
    """The bounds of a shard whose first retained sequence is the one above the trim mark."""
    return trimmed_through, trimmed_through + 1, last


def stream_description(
    namespace: str, stream: str, bounds: Sequence[ShardBounds], retention_seconds: int | None
) -> StreamDescription:
    """A stream's description from its shards' bounds, in shard order; the shards split the
    hash-key space into ``len(bounds)`` equal ranges."""
    ranges = hash_key_ranges(len(bounds))
    return StreamDescription(
        namespace,
        stream,
        [
            ShardDescription(i, r.starting, r.ending, first, last, trimmed)
            for i, (r, (trimmed, first, last)) in enumerate(zip(ranges, bounds, strict=True))
        ],
        retention_seconds,
    )


class _HasShards(Protocol):
    @property
    def shards(self) -> int: ...


InfoT = TypeVar("InfoT", bound=_HasShards)


class StreamInfoCache(Generic[InfoT]):
    """A backend's facts about its streams (shard count, retention, storage ids), loaded on
    first use and kept: a stream's shard count never changes while it exists.

    ``load(namespace, stream)`` fetches them or raises :class:`StreamNotFound`; a backend
    calls :meth:`forget` when it deletes a stream or wants them fetched afresh.
    """

    def __init__(self, load: Callable[[str, str], Awaitable[InfoT]]) -> None:
        self._load = load
        self._infos: dict[tuple[str, str], InfoT] = {}

    async def stream(self, namespace: str, stream: str) -> InfoT:
        """The stream's facts, after checking the names; StreamNotFound when it is missing."""
        check_stream(namespace, stream)
        found = self._infos.get((namespace, stream))
        if found is None:
            found = await self._load(namespace, stream)
            self._infos[(namespace, stream)] = found
        return found

    async def shard(self, namespace: str, stream: str, shard: int) -> InfoT:
        """As :meth:`stream`, then ShardNotFound unless the stream has that shard."""
        found = await self.stream(namespace, stream)
        check_shard(stream, shard, found.shards)
        return found

    def forget(self, namespace: str, stream: str) -> None:
        """Drop what is known of the stream."""
        self._infos.pop((namespace, stream), None)
