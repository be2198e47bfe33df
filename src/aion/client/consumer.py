"""A consumer-group worker over HTTP: processes on any machine share a stream's shards.

:class:`ConsumerGroupWorker` loops: heartbeat (the server rebalances the group by the same
fair-share rules as in-process workers, lease expiry on the store's clock, and answers the
shards this worker owns) → read each owned shard from the group's checkpoint → hand every
record to the handler → checkpoint the batch's last sequence number. A checkpoint is written
only after the handler returned for the whole batch, so delivery is at-least-once: a worker
that dies between handling and checkpointing has those records handled again by the next
owner. Handlers should be idempotent.

A worker that stops heartbeating (killed, partitioned) loses its leases after
``lease_seconds`` on the store's clock; the others take its shards over at their next
heartbeat, from its last checkpoint. A worker whose heartbeats fail stops reading its shards
once ``lease_seconds`` have passed (on its own monotonic clock) since the heartbeat it last
sent, before anyone can take them. Checkpoints are compare-and-set against the value this
worker last saw, so a worker that was taken over without noticing finds out at its next
checkpoint and drops the shard.

Shards move between live workers without duplicates: a newcomer claims a shard, and its
owner gives it up at its next heartbeat, between batches, with everything it handled
checkpointed; the newcomer reads it only once the server has handed it the lease.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from aion.client.streams_sync import StreamsClient
from aion.client.streams_types import GroupMembership, StreamRecord
from aion.errors import RequestError, ResponseError, ValidationError
from aion.streams.protocol import PositionKind, SequenceTrimmed

__all__ = ["ConsumerGroupWorker", "RecordHandler"]

logger = logging.getLogger(__name__)

_REFUSED = (401, 403)
"""Statuses that end ``run()``: no API key, an unknown one, or one without the scope."""

RecordHandler = Callable[[StreamRecord], None]
"""Called once per record (at least once across crashes), in sequence order per shard."""


@dataclass(slots=True)
class _Shard:
    iterator: str
    checkpoint: int  # the group's checkpoint as this worker last saw it (0: none)


class ConsumerGroupWorker:
    """One worker of consumer group ``group`` on ``stream``; ``run()`` until ``stop()``.

    ``start`` is where a shard without a checkpoint begins (TRIM_HORIZON or LATEST). The worker
    talks through ``client``, so its API key is the client's:
    ``ConsumerGroupWorker(StreamsClient(url, api_key=key), ...)``.
    """

    def __init__(
        self,
        client: StreamsClient,
        stream: str,
        group: str,
        worker: str,
        handler: RecordHandler,
        *,
        lease_seconds: float = 10.0,
        batch: int = 500,
        wait_seconds: float = 1.0,
        start: PositionKind | str = PositionKind.TRIM_HORIZON,
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.worker = worker
        self.handler = handler
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.wait_seconds = wait_seconds
        self.start = PositionKind(start)
        self.processed = 0
        self._owned: dict[int, _Shard] = {}
        self._until = 0.0  # monotonic time the leases of the last heartbeat surely end by
        self._stopping = threading.Event()
        self._turn = 0

    @property
    def shards(self) -> list[int]:
        """The shards this worker owns now."""
        return sorted(self._owned)

    def stop(self) -> None:
        """Ask ``run()`` to finish its current read, leave the group and return (thread-safe,
        and safe from a signal handler)."""
        self._stopping.set()

    def run(self) -> None:
        """Join, then heartbeat, read, handle and checkpoint until ``stop()``; then leave the
        group so the others take the shards at once. A handler's exception ends the run
        (after leaving); its batch is not checkpointed and will be delivered again. A server
        that refuses the client's API key (401, 403) ends the run with that ``ResponseError``;
        other failures are logged and retried."""
        next_beat = 0.0
        joined = False
        try:
            while not self._stopping.is_set():
                if time.monotonic() >= next_beat:
                    sent = time.monotonic()
                    try:
                        self._adopt(self._heartbeat(join=not joined))
                        self._until = sent + self.lease_seconds
                        joined = True
                        next_beat = time.monotonic() + self.lease_seconds / 3
                    except (RequestError, ResponseError) as exc:
                        if isinstance(exc, ResponseError) and exc.status in _REFUSED:
                            raise  # a missing or wrong API key does not mend itself
                        # Keep going: leases expire on their own if the outage lasts.
                        logger.warning("worker %s: heartbeat failed: %s", self.worker, exc)
                        if self._owned and time.monotonic() >= self._until:
                            # The leases may have run out: another worker may own the shards.
                            logger.warning("worker %s: leases ran out; stopping", self.worker)
                            self._owned.clear()
                        self._stopping.wait(min(1.0, self.lease_seconds / 3))
                        continue
                self._work(max(0.0, next_beat - time.monotonic()))
        finally:
            self._owned.clear()
            if joined:
                try:
                    self.client.leave_group(self.stream, self.group, self.worker)
                except (RequestError, ResponseError) as exc:
                    logger.warning("worker %s: leave failed: %s", self.worker, exc)

    def _heartbeat(self, join: bool) -> GroupMembership:
        if join:
            return self.client.join_group(self.stream, self.group, self.worker, self.lease_seconds)
        return self.client.heartbeat(self.stream, self.group, self.worker, self.lease_seconds)

    def _adopt(self, membership: GroupMembership) -> None:
        """Stop reading shards taken away; start the new ones from the group's checkpoints."""
        for shard in [s for s in self._owned if s not in membership.shards]:
            del self._owned[shard]
        new = [s for s in membership.shards if s not in self._owned]
        if not new:
            return
        checkpoints = self.client.get_checkpoints(self.stream, self.group)
        for shard in new:
            done = checkpoints.get(shard, 0)
            self._owned[shard] = _Shard(self._iterator(shard, done), done)

    def _iterator(self, shard: int, done: int) -> str:
        """An iterator after the group's checkpoint ``done`` (0: none: the start position).
        A checkpoint the server cannot start after (past the shard's end, as a stream made
        again with fewer records leaves it, or refused otherwise) is logged and the shard
        starts from the start position; one already trimmed goes on from the oldest record
        left, so only what retention dropped is lost."""
        if done:
            try:
                return self.client.iterator(
                    self.stream, shard, PositionKind.AFTER_SEQUENCE_NUMBER, done
                )
            except SequenceTrimmed:
                logger.warning(
                    "worker %s: stream %s group %s shard %d was trimmed past its checkpoint "
                    "%d; records were lost to retention, going on from the oldest left",
                    self.worker,
                    self.stream,
                    self.group,
                    shard,
                    done,
                )
                return self.client.iterator(self.stream, shard, PositionKind.TRIM_HORIZON)
            except ValidationError as exc:
                logger.warning(
                    "worker %s: stream %s group %s shard %d: cannot go on after checkpoint "
                    "%d (%s: %s); starting from %s",
                    self.worker,
                    self.stream,
                    self.group,
                    shard,
                    done,
                    type(exc).__name__,
                    exc,
                    self.start,
                )
        return self.client.iterator(self.stream, shard, self.start)

    def _work(self, until_beat: float) -> None:
        """One pass over the owned shards without waiting; when none had records, one
        long-poll on the next shard in turn, never past the next heartbeat."""
        progressed = False
        for shard in list(self._owned):
            progressed |= self._poll(shard, 0.0)
        if progressed or self._stopping.is_set():
            return
        wait = min(self.wait_seconds, until_beat)
        if not self._owned or wait <= 0:
            self._stopping.wait(min(wait, 0.2) if wait > 0 else 0)
            return
        shards = sorted(self._owned)
        self._turn = (self._turn + 1) % len(shards)
        self._poll(shards[self._turn], wait)

    def _poll(self, shard: int, wait: float) -> bool:
        """Read one batch of ``shard``, handle it, checkpoint it; whether it had records."""
        state = self._owned.get(shard)
        if state is None:
            return False
        try:
            batch = self.client.read(self.stream, state.iterator, self.batch, wait)
        except SequenceTrimmed:
            # Retention dropped records under the iterator: go on from the oldest left.
            state.iterator = self.client.iterator(self.stream, shard, PositionKind.TRIM_HORIZON)
            return False
        except ValidationError as exc:
            # The server refuses the iterator itself (e.g. its signing key changed): start
            # over from the checkpoint this worker last saw.
            logger.warning(
                "worker %s: stream %s group %s shard %d: read refused (%s); going on after "
                "checkpoint %d",
                self.worker,
                self.stream,
                self.group,
                shard,
                exc,
                state.checkpoint,
            )
            state.iterator = self._iterator(shard, state.checkpoint)
            return False
        except (RequestError, ResponseError) as exc:
            logger.warning("worker %s: read of shard %d failed: %s", self.worker, shard, exc)
            return False
        for record in batch.records:
            self.handler(record)
            self.processed += 1
        state.iterator = batch.next_iterator
        if not batch.records:
            return False
        last = batch.records[-1].sequence
        if self.client.set_checkpoint(
            self.stream, self.group, shard, last, expected=state.checkpoint
        ):
            state.checkpoint = last
        else:
            # Someone else moved the group's checkpoint: the shard was taken over.
            logger.info("worker %s: shard %d was taken over", self.worker, shard)
            self._owned.pop(shard, None)
        return True
