"""The in-memory reference StreamLog: lists per shard, an asyncio.Condition per stream.

It defines the contract's behaviour for the conformance suite; every other backend must
answer the same questions the same way. Nothing is durable.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aion.core.time import kronos_time_now
from aion.streams.protocol import (
    MAX_READ_BYTES,
    AppendRecord,
    Lease,
    Position,
    PositionKind,
    ReadResult,
    StoredRecord,
    StreamDescription,
    check_new_stream,
    check_records,
    check_stream,
    shard_of,
    start_after,
)
from aion.streams.rules import (
    ReadBudget,
    check_checkpoint,
    check_checkpoint_end,
    check_lease_request,
    check_limit,
    check_shard,
    check_shard_count,
    checkpoint_matches,
    lease_after_cas,
    read_result,
    retention_cutoff,
    stream_description,
    stream_not_found,
)

__all__ = ["MemoryStreamLog"]


@dataclass(slots=True)
class _Shard:
    sequences: list[int] = field(default_factory=list)
    records: list[StoredRecord] = field(default_factory=list)
    last: int = 0
    trimmed_through: int = 0


@dataclass(slots=True)
class _Stream:
    shards: list[_Shard]
    retention_seconds: int | None
    checkpoints: dict[str, dict[int, int]] = field(default_factory=dict)
    leases: dict[str, dict[int, Lease]] = field(default_factory=dict)


class MemoryStreamLog:
    """Streams in process memory (the reference backend; lost when the process ends)."""

    def __init__(self, clock: Callable[[], int] = kronos_time_now) -> None:
        self._streams: dict[tuple[str, str], _Stream] = {}
        # The store's clock (this process's): leases expire by it.
        self.clock = clock
        # Futures of readers in a long-poll; an append resolves them all. (Plain futures
        # rather than an asyncio.Condition: cancelling a wait_for around Condition.wait can
        # break the lock on Python 3.11.)
        self._waiters: set[asyncio.Future[None]] = set()

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _stream(self, namespace: str, stream: str) -> _Stream:
        check_stream(namespace, stream)
        found = self._streams.get((namespace, stream))
        if found is None:
            raise stream_not_found(namespace, stream)
        return found

    def _shard(self, namespace: str, stream: str, shard: int) -> _Shard:
        shards = self._stream(namespace, stream).shards
        check_shard(stream, shard, len(shards))
        return shards[shard]

    async def create_stream(
        self, namespace: str, stream: str, shards: int = 1, retention_seconds: int | None = None
    ) -> StreamDescription:
        check_new_stream(namespace, stream, shards, retention_seconds)
        existing = self._streams.get((namespace, stream))
        if existing is not None:
            check_shard_count(stream, len(existing.shards), shards)
        else:
            self._streams[(namespace, stream)] = _Stream(
                [_Shard() for _ in range(shards)], retention_seconds
            )
        return await self.describe_stream(namespace, stream)

    async def describe_stream(self, namespace: str, stream: str) -> StreamDescription:
        found = self._stream(namespace, stream)
        bounds = [
            (sh.trimmed_through, sh.sequences[0] if sh.sequences else sh.last + 1, sh.last)
            for sh in found.shards
        ]
        return stream_description(namespace, stream, bounds, found.retention_seconds)

    async def delete_stream(self, namespace: str, stream: str) -> None:
        self._stream(namespace, stream)
        del self._streams[(namespace, stream)]

    async def list_namespaces(self) -> list[str]:
        """The namespaces that hold at least one stream, sorted."""
        return sorted({ns for ns, _ in self._streams})

    async def list_streams(self, namespace: str) -> list[str]:
        return sorted(name for ns, name in self._streams if ns == namespace)

    async def append(
        self, namespace: str, stream: str, records: Sequence[AppendRecord]
    ) -> list[tuple[int, int]]:
        found = self._stream(namespace, stream)
        check_records(records)
        now = kronos_time_now()
        out: list[tuple[int, int]] = []
        for record in records:
            number = shard_of(record, len(found.shards))
            sh = found.shards[number]
            sh.last += 1
            sh.sequences.append(sh.last)
            sh.records.append(
                StoredRecord(number, sh.last, record.partition_key, bytes(record.data), now)
            )
            out.append((number, sh.last))
        if out:
            self._wake()
        return out

    def _bound(self, sh: _Shard, position: Position) -> int:
        if position.kind is PositionKind.AT_TIMESTAMP:
            times = [r.arrival_time for r in sh.records]
            i = bisect.bisect_left(times, position.value)
            return sh.records[i].sequence - 1 if i < len(sh.records) else sh.last
        return start_after(position, sh.trimmed_through, sh.last)

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
        check_limit(limit, max_bytes)
        sh = self._shard(namespace, stream, shard)
        bound = self._bound(sh, position)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while sh.last <= bound and (remaining := deadline - loop.time()) > 0:
            waiter = loop.create_future()
            self._waiters.add(waiter)
            try:
                await asyncio.wait({waiter}, timeout=remaining)
            finally:
                self._waiters.discard(waiter)
        i = bisect.bisect_right(sh.sequences, bound)
        # The slice copies references only; the records' bytes are shared, not copied.
        got = sh.records[i : i + limit]
        got = got[: ReadBudget(limit, max_bytes).admit_many([len(r.data) for r in got])]
        return read_result(got, bound, sh.records[-1].arrival_time if got else None)

    async def trim(self, namespace: str, stream: str) -> int:
        found = self._stream(namespace, stream)
        if found.retention_seconds is None:
            return 0
        cutoff = retention_cutoff(found.retention_seconds, kronos_time_now())
        dropped = 0
        for sh in found.shards:
            n = bisect.bisect_left([r.arrival_time for r in sh.records], cutoff)
            if n:
                sh.trimmed_through = sh.sequences[n - 1]
                del sh.records[:n]
                del sh.sequences[:n]
                dropped += n
        return dropped

    async def get_checkpoints(self, namespace: str, stream: str, group: str) -> dict[int, int]:
        return dict(self._stream(namespace, stream).checkpoints.get(group, {}))

    async def set_checkpoint(
        self,
        namespace: str,
        stream: str,
        group: str,
        shard: int,
        sequence: int,
        expected: int | None = None,
    ) -> bool:
        check_checkpoint(sequence, expected)
        check_checkpoint_end(sequence, self._shard(namespace, stream, shard).last)
        held = self._stream(namespace, stream).checkpoints.setdefault(group, {})
        if not checkpoint_matches(held.get(shard, 0), expected):
            return False
        held[shard] = sequence
        return True

    async def get_leases(self, namespace: str, stream: str, group: str) -> dict[int, Lease]:
        return dict(self._stream(namespace, stream).leases.get(group, {}))

    async def lease_time(self, namespace: str, stream: str) -> int:
        self._stream(namespace, stream)
        return self.clock()

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
        ttl = check_lease_request(expected_version, lease_seconds, owner, claimant)
        self._shard(namespace, stream, shard)
        held = self._stream(namespace, stream).leases.setdefault(group, {})
        lease = lease_after_cas(
            held.get(shard), shard, owner, (self.clock(), ttl), expected_version, claimant
        )
        if lease is not None:
            held[shard] = lease
        return lease
