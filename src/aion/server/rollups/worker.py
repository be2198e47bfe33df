"""The rollup consumer: ingested events update their rules' timeseries, each exactly once.

Sources (:mod:`.sources`): a rule follows the streams engine and, when that is another store,
the stream view of the SQL event stores, so events put through any API are rolled up.

Ownership (:mod:`.ownership`): a rule is a consumer group (``rollup.<rule name>``) on each
stream it follows; servers sharing a store share the (rule, shard) pairs through its leases,
one applier per pair, and a server that stops renewing loses its pairs after
``lease_seconds``.

Applying: the owner of a (rule, shard) reads the shard and applies each batch with
:meth:`Timeseries.bulk_insert_checkpointed`, which writes the rollup and moves the rule's
checkpoint for that shard in one atomic step (a SQL transaction, a watched Redis ``MULTI``, the
memory lock). So a crash before the step leaves both as they were and the batch is read again;
a crash after it leaves both moved; and a server that lost a lease without knowing it yet loses
the checkpoint's compare-and-set instead of counting a batch twice.

Idle: a shard is read only when there is something to read. Every ``poll_seconds`` the worker
lists the streams of the rules' namespaces (a new stream matching a prefix rule is picked up)
and describes each stream it applies, one call per stream however many rules and shards; a
shard whose last sequence moved is woken. A caught-up server makes a few store calls a second.

A batch the backend refuses (a name Redis cannot store, a value an SQL column cannot hold) is
split in halves until the bad events are alone; those are skipped, logged and counted, and the
checkpoint moves past them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aion.errors import AionError, BackendUnavailable, ConfigurationError, ValidationError
from aion.server.config import AionConfig
from aion.server.rollups.batches import build_batch, checkpoint_key
from aion.server.rollups.ownership import ShardOwnership, group_name
from aion.server.rollups.rules import RollupRule, StartAt, rollup_rules
from aion.server.rollups.sources import Source, event_store_sources
from aion.storage.protocol import EventStore
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
IDLE_RECHECK_SECONDS = 30.0
"""A caught-up shard is read again after this long even when no describe showed it move."""


class _Conflict(Exception):
    """Another consumer moved the checkpoint first; re-read it and go on from there."""


@dataclass(slots=True)
class RuleStats:
    """What one rule has done since the server started; ``shards``: the (stream, shard)
    pairs this server applies the rule to now."""

    events: int = 0
    skipped: int = 0
    batches: int = 0
    conflicts: int = 0
    shards: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class _Shard:
    rule: RollupRule = field(compare=False, hash=False)  # dict fields: identify by name
    source: Source = field(compare=False, hash=False)
    rule_name: str
    tag: str
    stream: str
    shard: int

    @property
    def key(self) -> str:
        return checkpoint_key(self.rule, self.rule.namespace, self.stream, self.shard, self.tag)

    @property
    def stream_key(self) -> tuple[str, str, str]:
        return (self.tag, self.rule.namespace, self.stream)


@dataclass(slots=True)
class _Applying:
    """One shard task and its controls: ``poke`` wakes it, clearing ``owned`` ends it."""

    task: asyncio.Task[None] | None = None
    poke: asyncio.Event = field(default_factory=asyncio.Event)
    owned: bool = True


_Group = tuple[str, str, str]  # (rule name, source tag, stream)


def _end(ends: tuple[int, ...], shard: int) -> int | None:
    return ends[shard] if shard < len(ends) else None


def _worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class RollupWorker:
    """Runs every rule against its sources until :meth:`stop`.

    ``timeseries`` maps rule names to their open :class:`Timeseries` (absent while a backend
    cannot be opened); the HTTP API reads through them. ``worker_id`` names this worker in
    the leases (default: host, process id and a random part).
    """

    def __init__(
        self,
        stream_log: StreamLog,
        rules: Sequence[RollupRule],
        *,
        sources: Sequence[Source] = (),
        worker_id: str | None = None,
        poll_seconds: float = 1.0,
        lease_seconds: float = 15.0,
        batch: int = 1000,
        retry_seconds: float = 1.0,
    ) -> None:
        self.stream_log = stream_log
        self.sources = (Source("", stream_log), *sources)
        self.rules = tuple(rules)
        self.worker_id = worker_id or _worker_id()
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = lease_seconds / 3
        self.batch = batch
        self.retry_seconds = retry_seconds
        self.timeseries: dict[str, Timeseries] = {}
        self.stats: dict[str, RuleStats] = {rule.name: RuleStats() for rule in self.rules}
        self._stopping = asyncio.Event()
        self._groups: dict[_Group, asyncio.Task[None]] = {}
        self._applying: dict[_Shard, _Applying] = {}
        self._ends: dict[tuple[str, str, str], tuple[int, ...]] = {}
        self._discovery: asyncio.Task[None] | None = None
        # One SQLite file takes one writer at a time: queue our own writers instead of letting
        # them time out on each other's locks.
        self._locks: dict[str, asyncio.Lock] = {}

    @classmethod
    def for_config(
        cls, config: AionConfig, stream_log: StreamLog, stores: dict[str, EventStore] | None = None
    ) -> RollupWorker:
        """The worker for the ``[[rollups]]`` of ``config`` (none: a worker that idles),
        following ``stream_log`` and the stream view of the SQL event ``stores``."""
        rules = rollup_rules(config)
        sources = event_store_sources(config, stores or {}) if rules else []
        return cls(stream_log, rules, sources=sources)

    @property
    def applying(self) -> set[tuple[str, str, str, int]]:
        """``(rule name, source tag, stream, shard)`` of every pair this worker applies now
        (safe to read from another thread: the pairs are copied in one step)."""
        pairs = list(self._applying.items())
        return {(t.rule_name, t.tag, t.stream, t.shard) for t, a in pairs if a.owned}

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the rules' timeseries and start following their streams."""
        self._stopping.clear()
        if not self.rules:
            return
        for source in self.sources:
            if source.owned:
                with contextlib.suppress(BackendUnavailable):  # connected on first use
                    await source.log.open()
        for rule in self.rules:
            await self._open(rule)
        self._discovery = asyncio.create_task(self._discover_loop(), name="rollup-discovery")

    async def stop(self, timeout: float = 10.0) -> None:
        """Let every shard task finish the batch it is applying (its checkpoint is saved
        with it), give the leases back, then close the timeseries."""
        self._stopping.set()
        for applying in self._applying.values():
            applying.poke.set()
        tasks = [t for t in (self._discovery, *self._groups.values()) if t is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._groups.clear()
        self._applying.clear()
        self._discovery = None
        for source in self.sources:
            if source.owned:
                await source.log.close()
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
            for source in self.sources:
                try:
                    await self._discover(source)
                    await self._watch(source)
                except AionError as exc:
                    where = source.tag or "the streams engine"
                    log.warning("rollups: following the streams of %s failed: %s", where, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll_seconds)

    async def _discover(self, source: Source) -> None:
        streams: dict[str, list[str]] = {}
        for rule in self.rules:
            if self._stopping.is_set() or await self._open(rule) is None:
                continue
            if rule.namespace not in streams:
                streams[rule.namespace] = await source.log.list_streams(rule.namespace)
            for stream in streams[rule.namespace]:
                group = (rule.name, source.tag, stream)
                if rule.matches(rule.namespace, stream) and group not in self._groups:
                    self._groups[group] = asyncio.create_task(
                        self._own(rule, source, stream), name=f"rollup {rule.name} {stream}"
                    )

    async def _watch(self, source: Source) -> None:
        """Describe each stream this worker applies a shard of; wake the shards that moved."""
        followed: dict[tuple[str, str, str], list[_Shard]] = {}
        for target in self._applying:
            if target.tag == source.tag:
                followed.setdefault(target.stream_key, []).append(target)
        for key, targets in followed.items():
            try:
                description = await source.log.describe_stream(key[1], key[2])
            except StreamNotFound:
                continue
            ends = tuple(shard.ending_sequence for shard in description.shards)
            before = self._ends.get(key)
            self._ends[key] = ends
            for target in targets:
                applying = self._applying.get(target)
                moved = before is None or _end(before, target.shard) != _end(ends, target.shard)
                if applying is not None and moved:
                    applying.poke.set()
        for key in [k for k in self._ends if k[0] == source.tag and k not in followed]:
            del self._ends[key]

    # -- ownership -----------------------------------------------------------------------

    async def _own(self, rule: RollupRule, source: Source, stream: str) -> None:
        """Hold this rule's share of the stream's shards until stopping or the stream goes."""
        ownership: ShardOwnership | None = None
        try:
            description = await source.log.describe_stream(rule.namespace, stream)
            ownership = ShardOwnership(
                source.log, rule.namespace, stream, group_name(rule.name), self.worker_id,
                len(description.shards), self.lease_seconds,
            )  # fmt: skip
            while not self._stopping.is_set():
                try:
                    await self._round(rule, source, stream, ownership)
                except StreamNotFound:
                    return
                except AionError as exc:
                    # Keep applying: the checkpoint's compare-and-set guards a lease that
                    # expires meanwhile, and the next round sorts ownership out.
                    self._failed(rule, f"{stream}: leases: {exc}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.heartbeat_seconds)
        except StreamNotFound:
            return
        except AionError as exc:
            self._failed(rule, f"{stream}: {exc}")
        finally:
            await self._stop_shards(rule.name, source.tag, stream, None)
            if ownership is not None:
                with contextlib.suppress(AionError):
                    await ownership.leave()
            if self._groups.get((rule.name, source.tag, stream)) is asyncio.current_task():
                del self._groups[(rule.name, source.tag, stream)]  # may be created again

    async def _round(
        self, rule: RollupRule, source: Source, stream: str, ownership: ShardOwnership
    ) -> None:
        mine = {
            t.shard: a
            for t, a in self._applying.items()
            if (t.rule_name, t.tag, t.stream) == (rule.name, source.tag, stream)
        }
        live = frozenset(s for s, a in mine.items() if a.task is not None and not a.task.done())

        async def stop(shards: tuple[int, ...]) -> None:
            await self._stop_shards(rule.name, source.tag, stream, shards)

        for shard in await ownership.round(live, stop):
            target = _Shard(rule, source, rule.name, source.tag, stream, shard)
            if self._applying.pop(target, None) is not None:  # its task ended; start anew
                self.stats[rule.name].shards -= 1
            applying = _Applying()
            self._applying[target] = applying
            self.stats[rule.name].shards += 1
            applying.task = asyncio.create_task(
                self._follow(target, applying), name=f"rollup {rule.name} {stream}/{shard}"
            )

    async def _stop_shards(
        self, rule_name: str, tag: str, stream: str, shards: Sequence[int] | None
    ) -> None:
        """Stop applying ``shards`` (None: all) of one group; each finishes its batch."""
        targets = [
            t for t in self._applying
            if (t.rule_name, t.tag, t.stream) == (rule_name, tag, stream)
            and (shards is None or t.shard in shards)
        ]  # fmt: skip
        tasks = []
        for target in targets:
            applying = self._applying.pop(target)
            self.stats[rule_name].shards -= 1
            applying.owned = False
            applying.poke.set()
            if applying.task is not None:
                tasks.append(applying.task)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- one shard -----------------------------------------------------------------------

    async def _follow(self, target: _Shard, applying: _Applying) -> None:
        while applying.owned and not self._stopping.is_set():
            try:
                await self._follow_once(target, applying)
            except StreamNotFound:
                return
            except AionError as exc:
                self._failed(target.rule, f"{target.stream}/{target.shard}: {exc}")
                await self._pause()

    async def _follow_once(self, target: _Shard, applying: _Applying) -> None:
        ts = self.timeseries[target.rule.name]
        checkpoint = await self._retrying(target, lambda: ts.checkpoint(target.key))
        if checkpoint == 0 and target.rule.start is StartAt.LATEST:
            checkpoint = await self._skip_to_latest(target, ts)
        position = Position.after_sequence(checkpoint) if checkpoint else TRIM_HORIZON
        rule, source = target.rule, target.source
        while applying.owned and not self._stopping.is_set():
            applying.poke.clear()  # before the read: a move seen during it wakes the wait
            try:
                result = await source.log.read(
                    rule.namespace, target.stream, target.shard, position, limit=self.batch
                )
            except SequenceTrimmed as exc:
                log.warning(
                    "rollup %s: %s; going on from the oldest retained event", rule.name, exc
                )
                position = TRIM_HORIZON
                continue
            if not result.records:
                position = result.next_position
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(applying.poke.wait(), IDLE_RECHECK_SECONDS)
                continue
            try:
                checkpoint = await self._apply(target, ts, checkpoint, result.records)
            except _Conflict:
                self.stats[rule.name].conflicts += 1
                return  # re-read the checkpoint another consumer moved
            position = Position.after_sequence(checkpoint)

    async def _skip_to_latest(self, target: _Shard, ts: Timeseries) -> int:
        description = await target.source.log.describe_stream(target.rule.namespace, target.stream)
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
