"""Consumer groups: workers with one group name share a stream's shards through leases.

Every ``heartbeat_seconds`` a worker runs :func:`aion.streams.groups.membership.heartbeat` (the same
round remote workers run over HTTP): it reads the group's leases, asks ``plan`` what to do, and
applies it with compare-and-set: renew what it keeps, release what is above its fair share,
take free or expired shards, steal one from the busiest worker when it has too few. A worker
that dies stops renewing; its leases expire after ``lease_seconds`` and the others take its
shards over from the group's checkpoints.

Each owned shard has a task that reads a batch, hands every record to the handler, then
checkpoints the batch's last sequence. A record is checkpointed only after the handler
returned for it, so delivery is at-least-once: a crash between handling and checkpointing
makes the next owner handle those records again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aion.errors import BackendUnavailable
from aion.streams.groups.membership import heartbeat
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

_TICKS_PER_SECOND = 10_000_000
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
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()

    @property
    def shards(self) -> list[int]:
        """The shards this worker holds now."""
        return sorted(self.leases)

    def stop(self) -> None:
        """Ask ``run()`` to release the leases and return."""
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
                    # Keep going: the leases expire on their own if the outage lasts.
                    logger.warning("consumer %s: heartbeat failed: %s", self.worker, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.heartbeat_seconds)
        finally:
            for shard in list(self.leases):
                await self._give_up(shard, release=True)

    async def _heartbeat(self, count: int) -> None:
        held = await heartbeat(
            self.log,
            self.namespace,
            self.stream,
            self.group,
            self.worker,
            self.lease_seconds,
            shards=count,
        )
        # A shard held before but not now was released above the fair share or taken over.
        for shard in [s for s in self.leases if s not in held.leases]:
            await self._give_up(shard, release=False)
        for shard, lease in held.leases.items():
            self.leases[shard] = lease
            if shard not in self._tasks or self._tasks[shard].done():
                self._tasks[shard] = asyncio.create_task(self._process(shard))

    async def _give_up(self, shard: int, release: bool) -> None:
        task = self._tasks.pop(shard, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        held = self.leases.pop(shard, None)
        if release and held is not None:
            await self.log.set_lease(
                self.namespace, self.stream, self.group, shard, None, 0, held.version
            )

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
        while shard in self.leases:
            try:
                result = await self.log.read(
                    self.namespace, self.stream, shard, position, self.batch, self.wait_seconds
                )
            except (SequencePastEnd, SequenceTrimmed) as exc:
                position = self._restart(shard, position, exc)
                continue
            for record in result.records:
                await self.handler(record)
            position = result.next_position
            if result.records and shard in self.leases:
                await self.log.set_checkpoint(
                    self.namespace, self.stream, self.group, shard, result.records[-1].sequence
                )
