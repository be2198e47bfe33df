"""The rollup consumer: ingested events update their rules' timeseries, each exactly once.

One task per (rule, stream, shard) reads the shard from the StreamLog and applies each batch
with :meth:`Timeseries.bulk_insert_checkpointed`, which writes the rollup and moves the rule's
checkpoint for that shard in one atomic step (a SQL transaction, a watched Redis ``MULTI``, the
memory lock). So a crash before the step leaves both as they were and the batch is read again;
a crash after it leaves both moved. Racing consumers (``aion serve --workers N``, or several
servers on one store) compare-and-set the checkpoint, so only one of them applies a batch.

A batch the backend refuses (a name Redis cannot store, a value an SQL column cannot hold) is
split in halves until the bad events are alone; those are skipped, logged and counted, and the
checkpoint moves past them. Every ``poll_seconds`` the worker lists the streams of the rules'
namespaces, so a new stream matching a prefix rule is picked up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aion.errors import AionError, BackendUnavailable, ConfigurationError, ValidationError
from aion.server.config import AionConfig
from aion.server.rollups.batches import build_batch, checkpoint_key
from aion.server.rollups.rules import RollupRule, StartAt, rollup_rules
from aion.streams.protocol import (
    TRIM_HORIZON,
    Position,
    SequenceTrimmed,
    StoredRecord,
    StreamLog,
    StreamNotFound,
)
from aion.timeseries import Advance, StoreError, Timeseries, read_number

__all__ = ["RollupWorker", "RuleStats"]

log = logging.getLogger("aion.rollups")
T = TypeVar("T")


class _Conflict(Exception):
    """Another consumer moved the checkpoint first; re-read it and go on from there."""


@dataclass(slots=True)
class RuleStats:
    """What one rule has done since the server started."""

    events: int = 0
    skipped: int = 0
    batches: int = 0
    conflicts: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class _Shard:
    rule: RollupRule = field(compare=False, hash=False)  # dict fields: identify by name
    rule_name: str
    stream: str
    shard: int

    @property
    def key(self) -> str:
        return checkpoint_key(self.rule, self.rule.namespace, self.stream, self.shard)


class RollupWorker:
    """Runs every rule against the StreamLog until :meth:`stop`.

    ``timeseries`` maps rule names to their open :class:`Timeseries` (absent while a backend
    cannot be opened); the HTTP API reads through them.
    """

    def __init__(
        self,
        stream_log: StreamLog,
        rules: Sequence[RollupRule],
        *,
        poll_seconds: float = 1.0,
        batch: int = 1000,
        wait_seconds: float = 0.25,
        retry_seconds: float = 1.0,
    ) -> None:
        self.stream_log = stream_log
        self.rules = tuple(rules)
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.wait_seconds = wait_seconds
        self.retry_seconds = retry_seconds
        self.timeseries: dict[str, Timeseries] = {}
        self.stats: dict[str, RuleStats] = {rule.name: RuleStats() for rule in self.rules}
        self._stopping = asyncio.Event()
        self._tasks: dict[_Shard, asyncio.Task[None]] = {}
        self._discovery: asyncio.Task[None] | None = None
        # One SQLite file takes one writer at a time: queue our own writers instead of letting
        # them time out on each other's locks.
        self._locks: dict[str, asyncio.Lock] = {}

    @classmethod
    def for_config(cls, config: AionConfig, stream_log: StreamLog) -> RollupWorker:
        """The worker for the ``[[rollups]]`` of ``config`` (none: a worker that idles)."""
        return cls(stream_log, rollup_rules(config))

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the rules' timeseries and start following their streams."""
        self._stopping.clear()
        if not self.rules:
            return
        for rule in self.rules:
            await self._open(rule)
        self._discovery = asyncio.create_task(self._discover_loop(), name="rollup-discovery")

    async def stop(self, timeout: float = 10.0) -> None:
        """Let every shard task finish the batch it is applying (its checkpoint is saved
        with it), then close the timeseries."""
        self._stopping.set()
        tasks = [t for t in (self._discovery, *self._tasks.values()) if t is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._tasks.clear()
        self._discovery = None
        for ts in self.timeseries.values():
            await asyncio.to_thread(ts.close)
        self.timeseries.clear()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RollupWorker]:
        """``start()`` on entry, ``stop()`` on exit (for the server's lifespan)."""
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    # -- discovery -----------------------------------------------------------------------

    async def _open(self, rule: RollupRule) -> Timeseries | None:
        ts = self.timeseries.get(rule.name)
        if ts is not None:
            return ts

        def build() -> Timeseries:
            # Numbers read back as numbers on every backend (Redis returns text), so the
            # rule's buckets take transforms over HTTP, the CLI and the dashboard.
            return Timeseries(
                rule.backend,
                type=rule.type,
                intervals=rule.intervals,
                read_func=read_number,
                **rule.options,
            )

        try:
            ts = await asyncio.to_thread(build)
        except ConfigurationError as exc:
            raise ConfigurationError(f"rollups[{rule.index}].backend: {exc}") from exc
        except (BackendUnavailable, StoreError) as exc:
            self._failed(rule, f"cannot open {rule.backend}: {exc}")
            return None
        self.timeseries[rule.name] = ts
        return ts

    async def _discover_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._discover()
            except AionError as exc:
                log.warning("rollups: listing streams failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll_seconds)

    async def _discover(self) -> None:
        streams: dict[str, list[str]] = {}
        for rule in self.rules:
            if self._stopping.is_set() or await self._open(rule) is None:
                continue
            if rule.namespace not in streams:
                streams[rule.namespace] = await self.stream_log.list_streams(rule.namespace)
            for stream in streams[rule.namespace]:
                if rule.matches(rule.namespace, stream):
                    await self._follow_stream(rule, stream)

    async def _follow_stream(self, rule: RollupRule, stream: str) -> None:
        if _Shard(rule, rule.name, stream, 0) in self._tasks:
            return  # shard counts are fixed at creation: shard 0 known means all known
        try:
            description = await self.stream_log.describe_stream(rule.namespace, stream)
        except StreamNotFound:
            return
        for shard in description.shards:
            target = _Shard(rule, rule.name, stream, shard.shard)
            self._tasks[target] = asyncio.create_task(
                self._follow(target), name=f"rollup {rule.name} {stream}/{shard.shard}"
            )

    # -- one shard -----------------------------------------------------------------------

    async def _follow(self, target: _Shard) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    await self._follow_once(target)
                except StreamNotFound:
                    return
                except AionError as exc:
                    self._failed(target.rule, f"{target.stream}/{target.shard}: {exc}")
                    await self._pause()
        finally:
            if self._tasks.get(target) is asyncio.current_task():
                del self._tasks[target]  # a deleted stream may be created again

    async def _follow_once(self, target: _Shard) -> None:
        ts = self.timeseries[target.rule.name]
        checkpoint = await self._retrying(target, lambda: ts.checkpoint(target.key))
        if checkpoint == 0 and target.rule.start is StartAt.LATEST:
            checkpoint = await self._skip_to_latest(target, ts)
        position = Position.after_sequence(checkpoint) if checkpoint else TRIM_HORIZON
        rule = target.rule
        while not self._stopping.is_set():
            try:
                result = await self.stream_log.read(
                    rule.namespace, target.stream, target.shard, position,
                    limit=self.batch, wait_seconds=self.wait_seconds,
                )  # fmt: skip
            except SequenceTrimmed as exc:
                log.warning(
                    "rollup %s: %s; going on from the oldest retained event", rule.name, exc
                )
                position = TRIM_HORIZON
                continue
            if not result.records:
                position = result.next_position
                continue
            try:
                checkpoint = await self._apply(target, ts, checkpoint, result.records)
            except _Conflict:
                self.stats[rule.name].conflicts += 1
                return  # re-read the checkpoint another consumer moved
            position = Position.after_sequence(checkpoint)

    async def _skip_to_latest(self, target: _Shard, ts: Timeseries) -> int:
        description = await self.stream_log.describe_stream(target.rule.namespace, target.stream)
        last = description.shards[target.shard].ending_sequence
        if last and await self._write(target, ts, {}, Advance(target.key, 0, last)):
            return last
        return await self._retrying(target, lambda: ts.checkpoint(target.key))

    async def _apply(
        self, target: _Shard, ts: Timeseries, checkpoint: int, records: Sequence[StoredRecord]
    ) -> int:
        """Apply ``records`` after ``checkpoint``; return the new checkpoint."""
        rule, stats = target.rule, self.stats[target.rule.name]
        batch = build_batch(rule, rule.namespace, target.stream, records)
        advance = Advance(target.key, checkpoint, records[-1].sequence)
        try:
            applied = await self._write(target, ts, batch.inserts, advance)
        except ValidationError as exc:
            if len(records) > 1:
                half = len(records) // 2
                checkpoint = await self._apply(target, ts, checkpoint, records[:half])
                return await self._apply(target, ts, checkpoint, records[half:])
            log.warning(
                "rollup %s: skipped %s/%d sequence %d: %s",
                rule.name, target.stream, target.shard, records[0].sequence, exc,
            )  # fmt: skip
            stats.last_error = str(exc)
            applied = await self._write(target, ts, {}, advance)
            batch.skipped, batch.used = batch.skipped + batch.used, 0
        if not applied:
            raise _Conflict
        stats.events += batch.used
        stats.skipped += batch.skipped
        stats.batches += 1
        return advance.sequence

    async def _write(
        self, target: _Shard, ts: Timeseries, inserts: dict[int, dict[str, list[Any]]],
        advance: Advance,
    ) -> bool:  # fmt: skip
        lock = self._lock(target.rule.backend)
        async with lock:
            return await self._retrying(
                target, lambda: ts.bulk_insert_checkpointed(inserts, advance)
            )

    async def _retrying(self, target: _Shard, call: Callable[[], T]) -> T:
        """Run a blocking timeseries call in a thread until the backend answers.

        While the backend is down nothing is applied and no checkpoint moves, so retrying the
        same batch later is safe. Stopping gives up (the batch is read again next start).
        """
        while True:
            try:
                return await asyncio.to_thread(call)
            except (BackendUnavailable, StoreError) as exc:
                self._failed(target.rule, str(exc))
                if self._stopping.is_set():
                    raise
                await self._pause()

    # -- small parts ---------------------------------------------------------------------

    def _lock(self, backend: str) -> contextlib.AbstractAsyncContextManager[Any]:
        if not backend.lower().startswith("sqlite"):
            return contextlib.nullcontext()
        return self._locks.setdefault(backend, asyncio.Lock())

    def _failed(self, rule: RollupRule, message: str) -> None:
        self.stats[rule.name].last_error = message
        log.warning("rollup %s: %s", rule.name, message)

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.retry_seconds)
