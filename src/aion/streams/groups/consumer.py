"""Consumer groups: workers with one group name share a stream's shards through leases.

Every ``heartbeat_seconds`` a worker runs :func:`aion.streams.groups.membership.heartbeat` (the same
round remote workers run over HTTP): it reads the store's clock and the group's leases, asks
``plan`` what to do, and applies it with compare-and-set: renew what it keeps, take free
shards, claim one from the busiest worker when it has too few. A shard above its fair share or
claimed by another worker is handed over: its task finishes the batch in hand, checkpoints it,
and only then is the lease released. A worker reads a shard only while it holds the lease, so
while nobody crashes every record is handled once.

A worker that dies stops renewing; its leases expire after ``lease_seconds`` on the store's
clock and the others take its shards over from the group's checkpoints. A worker that cannot
renew (the store is unreachable) stops reading a shard once ``lease_seconds`` have passed on
its own monotonic clock since the renewal it last sent, before anyone else can take it.

Each owned shard has a task that reads a batch, hands every record to the handler, then
checkpoints the batch's last sequence, compare-and-set against the checkpoint it started
from: a stale write (the shard moved on under another worker) is refused and the task stops.
Delivery is at-least-once: a crash between handling and checkpointing makes the next owner
handle that batch again (at most one batch per shard of the crashed worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from aion.errors import BackendUnavailable
from aion.streams.groups.membership import heartbeat, release
from aion.streams.protocol import (
    TRIM_HORIZON,
    Lease,
    Position,
    SequencePastEnd,
    SequenceTrimmed,
    StoredRecord,
    StreamLog,
)

__all__ = ["GroupConsumer"]

logger = logging.getLogger(__name__)

Handler = Callable[[StoredRecord], Awaitable[None]]


class GroupConsumer:
    """One worker of consumer group ``group`` on a stream; ``run()`` until ``stop()``.

    ``start`` is where a shard without a checkpoint begins (TRIM_HORIZON by default).
    """

    def __init__(
        self,
        log: StreamLog,
        namespace: str,
        stream: str,
        group: str,
        worker: str,
        handler: Handler,
        *,
        lease_seconds: float = 10.0,
        heartbeat_seconds: float | None = None,
        batch: int = 500,
        wait_seconds: float = 0.5,
        start: Position = TRIM_HORIZON,
    ) -> None:
        self.log = log
        self.namespace = namespace
        self.stream = stream
        self.group = group
        self.worker = worker
        self.handler = handler
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds or lease_seconds / 3
        self.batch = batch
        self.wait_seconds = wait_seconds
        self.start = start
        self.leases: dict[int, Lease] = {}
        self._until: dict[int, float] = {}  # monotonic time each held lease surely ends by
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._handovers: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    @property
    def shards(self) -> list[int]:
        """The shards this worker holds now."""
        return sorted(self.leases)

    def stop(self) -> None:
        """Ask ``run()`` to finish the batches in hand, checkpoint, release and return."""
        self._stopping.set()

    async def run(self) -> None:
        """Heartbeat and process until ``stop()``; then give every shard back."""
        described = await self.log.describe_stream(self.namespace, self.stream)
        count = len(described.shards)
        try:
            while not self._stopping.is_set():
                try:
                    await self._heartbeat(count)
                except BackendUnavailable as exc:
                    # Keep going: the leases run out on their own if the outage lasts, and
                    # the shard tasks stop reading before they do.
                    logger.warning("consumer %s: heartbeat failed: %s", self.worker, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.heartbeat_seconds)
        finally:
            for shard, lease in list(self.leases.items()):
                self._hand_over(shard, lease)
            # Hand-overs, and the tasks of shards taken over, each finishing its batch.
            await asyncio.gather(*self._handovers, *self._tasks.values(), return_exceptions=True)

    async def _heartbeat(self, count: int) -> None:
        sent = time.monotonic()
        held = await heartbeat(
            self.log,
            self.namespace,
            self.stream,
            self.group,
            self.worker,
            self.lease_seconds,
            shards=count,
        )
        for shard, lease in held.handing_over.items():
            self._hand_over(shard, lease)
        # A shard held before but neither held nor handed over now was taken over: its task
        # stops after the batch in hand (whose checkpoint the CAS then refuses, if the new
        # owner already moved on).
        for shard in [s for s in self.leases if s not in held.leases]:
            self.leases.pop(shard, None)
        for shard, lease in held.leases.items():
            self.leases[shard] = lease
            self._until[shard] = sent + self.lease_seconds
            if shard not in self._tasks or self._tasks[shard].done():
                self._tasks[shard] = asyncio.create_task(self._process(shard))

    def _hand_over(self, shard: int, lease: Lease) -> None:
        """Stop reading ``shard``; once its task has checkpointed the batch in hand, release
        the lease (reserved for the claimant, if any)."""
        self.leases.pop(shard, None)
        task = self._tasks.pop(shard, None)

        async def finish() -> None:
            if task is not None:
                # Its batch checkpointed (or its handler failed: not checkpointed either way).
                await asyncio.gather(task, return_exceptions=True)
            try:
                await release(
                    self.log,
                    self.namespace,
                    self.stream,
                    self.group,
                    self.worker,
                    lease,
                    self.lease_seconds,
                )
            except BackendUnavailable as exc:
                logger.warning(
                    "consumer %s: release of shard %d failed: %s", self.worker, shard, exc
                )

        handover = asyncio.create_task(finish())
        self._handovers.add(handover)
        handover.add_done_callback(self._handovers.discard)

    def _owns(self, shard: int) -> bool:
        """Whether this worker may still read ``shard``: it holds the lease, and the lease
        cannot have run out on the store yet (judged by the local monotonic clock from when
        the renewal was sent)."""
        return shard in self.leases and time.monotonic() < self._until.get(shard, 0.0)

    def _restart(self, shard: int, position: Position, exc: Exception) -> Position:
        """Where to go on when ``position`` cannot be read: after records trimmed by retention,
        from the oldest left; past the shard's end (a checkpoint the stream no longer
        reaches, as a stream made again leaves it), from the start position. Logged."""
        restart = TRIM_HORIZON if isinstance(exc, SequenceTrimmed) else self.start
        logger.warning(
            "consumer %s: stream %s group %s shard %d: cannot read from %s %s (%s); going on "
            "from %s",
            self.worker,
            self.stream,
            self.group,
            shard,
            position.kind,
            position.value,
            exc,
            restart.kind,
        )
        return restart

    async def _process(self, shard: int) -> None:
        checkpoints = await self.log.get_checkpoints(self.namespace, self.stream, self.group)
        done = checkpoints.get(shard)
        position = self.start if done is None else Position.after_sequence(done)
        seen = done or 0  # the checkpoint as this task last saw it: its CAS expectation
        while self._owns(shard):
            try:
                result = await self.log.read(
                    self.namespace, self.stream, shard, position, self.batch, self.wait_seconds
                )
            except (SequencePastEnd, SequenceTrimmed) as exc:
                position = self._restart(shard, position, exc)
                continue
            if not self._owns(shard):
                break  # handed over or run out during the read: leave the batch unhandled
            for record in result.records:
                await self.handler(record)
            position = result.next_position
            if not result.records:
                continue
            last = result.records[-1].sequence
            if not await self.log.set_checkpoint(
                self.namespace, self.stream, self.group, shard, last, expected=seen
            ):
                # Someone else moved the checkpoint: the shard went on under another worker.
                logger.warning(
                    "consumer %s: stream %s group %s shard %d: checkpoint %d refused (it "
                    "moved on under another worker); stopping the shard",
                    self.worker,
                    self.stream,
                    self.group,
                    shard,
                    last,
                )
                self.leases.pop(shard, None)
                break
            seen = last
