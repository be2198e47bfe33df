"""The shipper's state machine: the bounded buffer and the batching decisions, with no I/O.

The drivers (a thread, an asyncio task) hold a lock around these calls and do the sending;
everything they decide, they ask this module. A batch taken for sending stays *pending* — still
counted in the buffer — until its outcome is known, so only events actually sent leave the
buffer, and events put during a send are untouched by it. One batch is pending at a time, which
keeps the order of a route's batches and makes retries reuse the same batch (and batch id).
"""

from __future__ import annotations

import math
import random
import uuid
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from aion.client.shipper.config import FlushSchedule, OverflowPolicy, ShipperConfig
from aion.client.shipper.counters import Counters
from aion.client.shipper.retry import Verdict, plan_retry

__all__ = ["Action", "ActionKind", "Batch", "PutOutcome", "ResultOutcome", "ShipperState"]


@dataclass(frozen=True, slots=True)
class Batch:
    """Events of one route, already JSON-encoded, and the id every attempt to send them uses."""

    batch_id: str
    route: str
    payloads: tuple[bytes, ...]
    replayed: bool = False

    def __len__(self) -> int:
        return len(self.payloads)

    @property
    def nbytes(self) -> int:
        """The encoded size of the events, without the array's brackets and commas."""
        return sum(len(p) for p in self.payloads)


class PutOutcome(StrEnum):
    """What ``put`` did with an event."""

    QUEUED = "queued"
    FULL = "full"
    TOO_LARGE = "too_large"


class ActionKind(StrEnum):
    """What the driver should do next."""

    SEND = "send"
    WAIT = "wait"
    IDLE = "idle"


@dataclass(frozen=True, slots=True)
class Action:
    """The next step: send ``batch``, wait until ``until`` (monotonic seconds), or idle."""

    kind: ActionKind
    batch: Batch | None = None
    until: float | None = None


class ResultOutcome(StrEnum):
    """What became of the pending batch after an attempt."""

    SENT = "sent"
    RETRY_LATER = "retry_later"
    REJECTED = "rejected"
    GIVE_UP = "give_up"
    #: The batch was drained (spooled by close) while the attempt was on the wire.
    STALE = "stale"


@dataclass(slots=True)
class _Pending:
    batch: Batch
    count: int
    nbytes: int
    failures: int = 0
    first_attempt_at: float | None = None
    not_before: float = 0.0


@dataclass(slots=True)
class _Tally:
    queued: int = 0
    sent: int = 0
    retried: int = 0
    dropped: int = 0
    rejected: int = 0
    spilled: int = 0
    replayed: int = 0


def new_batch_id() -> str:
    """A fresh batch id: random, 32 hex digits."""
    return uuid.uuid4().hex


@dataclass(slots=True)
class ShipperState:
    """The buffer (queued events, the pending batch, spooled batches to replay) and counters.

    Not thread-safe by itself: the drivers serialise calls with their own lock.
    """

    config: ShipperConfig
    rng: random.Random = field(default_factory=random.Random)
    # Entries are (route, payload, enqueued_at) tuples: small and quick to build on the hot path.
    _queue: deque[tuple[str, bytes, float]] = field(default_factory=deque)
    _queue_bytes: int = 0
    _pending: _Pending | None = None
    _replay: deque[Batch] = field(default_factory=deque)
    _tally: _Tally = field(default_factory=_Tally)
    # Batches evicted by a full buffer, for the driver to write to the spool (outside its lock).
    _overflow: list[Batch] = field(default_factory=list)
    # rejected + dropped + spilled when the last flush ended: a flush is clean when it held.
    _losses_seen: int = 0
    # When the first event was queued: the origin of the "tick" flush schedule.
    _origin: float | None = None

    # -- the hot path ------------------------------------------------------------------------

    def put(self, route: str, payload: bytes, now: float, count_full: bool = True) -> PutOutcome:
        """Queue one encoded event, applying the overflow policy.

        With a spool (``spool_dir``), the oldest queued events make room by moving to the
        spool, whatever the policy (block waits for room first): ``take_overflow`` hands them
        to the driver. Without one, under drop_oldest the oldest queued (not pending) event
        makes room; under drop_newest and block the new event is refused with ``FULL``,
        counted as dropped unless ``count_full`` is False (a blocking put that will try again).
        """
        cfg = self.config
        size = len(payload)
        if size > cfg.max_event_bytes or size > cfg.max_batch_bytes:
            self._tally.dropped += 1
            return PutOutcome.TOO_LARGE
        queue = self._queue
        held_count, held_bytes = self._held()
        spill = cfg.spool_dir is not None and (
            count_full or cfg.overflow is not OverflowPolicy.BLOCK
        )
        while held_count + 1 > cfg.max_events or held_bytes + size > cfg.max_bytes:
            if spill and queue:
                evicted = self._take_batch()
                self._overflow.append(evicted)
                held_count -= len(evicted)
                held_bytes -= evicted.nbytes
                continue
            if cfg.overflow is OverflowPolicy.DROP_OLDEST and queue:
                _, old, _ = queue.popleft()
                self._queue_bytes -= len(old)
                self._tally.dropped += 1
                held_count -= 1
                held_bytes -= len(old)
                continue
            # drop_newest, block, or drop_oldest with every held event being sent right now.
            if count_full:
                self._tally.dropped += 1
            return PutOutcome.FULL
        if self._origin is None:
            self._origin = now
        queue.append((route, payload, now))
        self._queue_bytes += size
        self._tally.queued += 1
        return PutOutcome.QUEUED

    def start_ticks(self, now: float) -> None:
        """Count the "tick" schedule's ticks from ``now`` (the shipper's start, as PyKronos's
        sender thread started with its client); without it they count from the first event."""
        self._origin = now

    def take_overflow(self) -> list[Batch]:
        """The batches a full buffer evicted for the spool since the last call."""
        taken, self._overflow = self._overflow, []
        return taken

    @property
    def has_overflow(self) -> bool:
        """True when evicted batches wait to be written to the spool."""
        return bool(self._overflow)

    def clean_since_last_flush(self) -> bool:
        """True when no event was rejected, dropped or spilled since the previous call (or
        since the start): what a flush that emptied the buffer needs to report success."""
        t = self._tally
        losses = t.rejected + t.dropped + t.spilled
        clean = losses == self._losses_seen
        self._losses_seen = losses
        return clean

    def count_dropped(self, n: int = 1) -> None:
        """Count events refused by the driver (a blocking put that timed out)."""
        self._tally.dropped += n

    def batch_ready(self) -> bool:
        """True when the queue alone fills a batch: the driver wakes the sender early."""
        cfg = self.config
        return len(self._queue) >= cfg.max_batch_events or self._queue_bytes >= cfg.max_batch_bytes

    def wake_sender(self) -> bool:
        """True when the event just queued should wake an idle sender: the queue reached the
        minimum batch (so the interval clock starts) or a full batch."""
        return len(self._queue) == self.config.min_batch or self.batch_ready()

    # -- decisions ---------------------------------------------------------------------------

    def next_action(self, now: float, flushing: bool = False) -> Action:
        """What to do next. ``flushing`` sends partial batches without waiting for triggers."""
        pending = self._pending
        if pending is not None:
            if now >= pending.not_before:
                return Action(ActionKind.SEND, batch=pending.batch)
            return Action(ActionKind.WAIT, until=pending.not_before)
        if self._replay:
            batch = self._replay.popleft()
            self._pending = _Pending(batch, len(batch), batch.nbytes)
            return Action(ActionKind.SEND, batch=batch)
        queue = self._queue
        if not queue:
            return Action(ActionKind.IDLE)
        cfg = self.config
        due = self._due(queue[0][2])
        enough = len(queue) >= cfg.min_batch
        if flushing or self.batch_ready() or (enough and now >= due):
            batch = self._take_batch()
            self._pending = _Pending(batch, len(batch), batch.nbytes)
            return Action(ActionKind.SEND, batch=batch)
        if enough:
            return Action(ActionKind.WAIT, until=due)
        return Action(ActionKind.IDLE)

    def _due(self, oldest: float) -> float:
        """When a partial batch whose oldest event was queued at ``oldest`` may leave."""
        cfg = self.config
        interval = cfg.flush_interval
        if cfg.flush_schedule is FlushSchedule.AGE or interval <= 0:
            return oldest + interval
        # The first tick at or after ``oldest``, counting from the start (or the first event).
        origin = self._origin if self._origin is not None else oldest
        return origin + math.ceil((oldest - origin) / interval) * interval

    def _take_batch(self) -> Batch:
        cfg = self.config
        queue = self._queue
        route = queue[0][0]
        payloads: list[bytes] = []
        nbytes = 0
        while queue and len(payloads) < cfg.max_batch_events:
            entry_route, payload, _ = queue[0]
            if entry_route != route or (payloads and nbytes + len(payload) > cfg.max_batch_bytes):
                break
            queue.popleft()
            payloads.append(payload)
            nbytes += len(payload)
        self._queue_bytes -= nbytes
        return Batch(new_batch_id(), route, tuple(payloads))

    def on_result(
        self, batch: Batch, verdict: Verdict, now: float, retry_after: float | None = None
    ) -> ResultOutcome:
        """Record the outcome of an attempt to send ``batch``, the pending batch.

        On ``REJECTED`` and ``GIVE_UP`` the batch leaves the buffer, and the driver reports or
        spools it (then calls ``mark_spilled`` or ``mark_lost``). ``STALE`` means the batch was
        drained meanwhile; it is already in the spool, whose replay keeps its batch id, so the
        server drops it if this attempt did land.
        """
        pending = self._pending
        if pending is None or pending.batch is not batch:
            return ResultOutcome.STALE
        n = len(batch)
        if verdict is Verdict.SENT:
            self._pending = None
            self._tally.sent += n
            if batch.replayed:
                self._tally.replayed += n
            return ResultOutcome.SENT
        if verdict is Verdict.REJECTED:
            self._pending = None
            self._tally.rejected += n
            return ResultOutcome.REJECTED
        pending.failures += 1
        if pending.first_attempt_at is None:
            pending.first_attempt_at = now
        plan = plan_retry(
            self.config.retry,
            pending.failures,
            pending.first_attempt_at,
            now,
            retry_after,
            self.rng,
        )
        if plan.again:
            pending.not_before = plan.not_before
            self._tally.retried += n
            return ResultOutcome.RETRY_LATER
        self._pending = None
        return ResultOutcome.GIVE_UP

    def mark_spilled(self, batch: Batch) -> None:
        """Count a batch written to the spool."""
        self._tally.spilled += len(batch)

    def mark_lost(self, batch: Batch) -> None:
        """Count a batch that could be neither sent nor spooled."""
        self._tally.dropped += len(batch)

    # -- replay, shutdown, fork --------------------------------------------------------------

    def add_replay(self, batches: list[Batch]) -> None:
        """Queue spooled batches; they are sent before newer events, with their old ids."""
        self._replay.extend(batches)

    def drain(self) -> list[Batch]:
        """Take everything still held, as batches (the pending one first), for the spool."""
        out: list[Batch] = []
        if self._pending is not None:
            out.append(self._pending.batch)
            self._pending = None
        out.extend(self._replay)
        self._replay.clear()
        while self._queue:
            out.append(self._take_batch())
        out.extend(self.take_overflow())
        return out

    def reset(self) -> None:
        """Forget every event and count (a forked child must not resend its parent's)."""
        self._queue.clear()
        self._queue_bytes = 0
        self._pending = None
        self._replay.clear()
        self._overflow.clear()
        self._tally = _Tally()
        self._losses_seen = 0
        self._origin = None

    # -- reading -----------------------------------------------------------------------------

    def _held(self) -> tuple[int, int]:
        count = len(self._queue)
        nbytes = self._queue_bytes
        pending = self._pending
        if pending is not None:
            count += pending.count
            nbytes += pending.nbytes
        return count, nbytes

    def held_payloads(self) -> list[bytes]:
        """The encoded events held, oldest first (pending batch, replays, then the queue)."""
        out: list[bytes] = []
        if self._pending is not None:
            out.extend(self._pending.batch.payloads)
        for batch in self._replay:
            out.extend(batch.payloads)
        out.extend(payload for _, payload, _ in self._queue)
        return out

    @property
    def depth(self) -> int:
        """Events held: queued, pending and waiting for replay."""
        return self._held()[0] + sum(len(b) for b in self._replay)

    @property
    def is_empty(self) -> bool:
        """True when nothing is queued, pending or waiting for replay."""
        return not self._queue and self._pending is None and not self._replay and not self._overflow

    @property
    def has_pending(self) -> bool:
        """True while a batch is being sent or waits for a retry."""
        return self._pending is not None

    def counters(self) -> Counters:
        """A snapshot of the counters."""
        t = self._tally
        return Counters(
            queued=t.queued,
            sent=t.sent,
            retried=t.retried,
            dropped=t.dropped,
            rejected=t.rejected,
            spilled=t.spilled,
            replayed=t.replayed,
            depth=self.depth,
        )
