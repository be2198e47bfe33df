"""Retention that happens by itself: a background task that trims the server's streams.

A stream created with ``retention_seconds`` keeps records that long; the StreamLog drops older
ones only when ``trim()`` is called (Redis and the SQL stores have no clock of their own for
it). :class:`RetentionTrimmer` calls ``trim()`` for every stream of every namespace it knows,
every ``interval_seconds`` (``stream_retention_interval_seconds`` in ``aion.toml``, 60 by
default; 0 turns it off). ``trim()`` on a stream without a retention is a cached no-op, so
the trimmer does not need to find the streams that have one first.

Namespaces come from the backend when it can list them (every shipped backend can: see
:class:`NamespaceListing`), plus the configured ones. With several server workers each runs a
trimmer: trimming is idempotent, so the cost is a few extra queries per interval, not harm.
A backend outage is logged and the next round tries again; the trimmer never dies of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from aion.errors import AionError, ConfigurationError
from aion.server.config import AionConfig
from aion.streams.protocol import StreamLog, StreamNotFound

__all__ = ["DEFAULT_INTERVAL_SECONDS", "INTERVAL_KEY", "NamespaceListing", "RetentionTrimmer"]

DEFAULT_INTERVAL_SECONDS = 60.0
INTERVAL_KEY = "stream_retention_interval_seconds"
"""The ``aion.toml`` key (top level) for the trimming interval in seconds; 0 disables it."""

logger = logging.getLogger(__name__)


@runtime_checkable
class NamespaceListing(Protocol):
    """A StreamLog that can say which namespaces hold streams (outside the StreamLog
    contract, which is per namespace; every backend Aion ships has it)."""

    async def list_namespaces(self) -> list[str]:
        """The namespaces that hold at least one stream, sorted."""


class RetentionTrimmer:
    """Trims every stream of ``log`` every ``interval_seconds`` while started."""

    def __init__(
        self,
        log: StreamLog,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        namespaces: Iterable[str] = (),
    ) -> None:
        if interval_seconds < 0:
            raise ConfigurationError(f"{INTERVAL_KEY} cannot be negative")
        self.log = log
        self.interval_seconds = interval_seconds
        self.namespaces = tuple(namespaces)
        self.rounds = 0
        self.trimmed = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @classmethod
    def for_config(cls, config: AionConfig, log: StreamLog) -> RetentionTrimmer:
        """The trimmer the server runs: its interval from ``aion.toml``, and the configured
        namespaces (the default one included) beside those the backend lists."""
        raw = config.extra.get(INTERVAL_KEY, DEFAULT_INTERVAL_SECONDS)
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ConfigurationError(f"{INTERVAL_KEY} must be a number of seconds, not {raw!r}")
        return cls(log, float(raw), (config.default_namespace, *config.namespaces))

    @property
    def running(self) -> bool:
        """Whether the background task is alive."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start trimming in the background (nothing when the interval is 0). Idempotent."""
        if self.interval_seconds > 0 and not self.running:
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._loop(), name="aion-retention")

    async def stop(self) -> None:
        """Stop the background task and wait for it. Idempotent.

        The loop also watches a stop flag, not only the cancellation: a client library that
        turns a cancellation into an error of its own mid-round (nats-py can, under uvloop)
        would otherwise leave the loop asleep for a whole interval and the shutdown waiting."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def trim_all(self) -> int:
        """One round: trim every stream now; return how many records went."""
        namespaces = set(self.namespaces)
        if isinstance(self.log, NamespaceListing):
            namespaces.update(await self.log.list_namespaces())
        dropped = 0
        for namespace in sorted(namespaces):
            for stream in await self.log.list_streams(namespace):
                # A stream deleted between the listing and its trim has nothing left to trim.
                with contextlib.suppress(StreamNotFound):
                    dropped += await self.log.trim(namespace, stream)
        self.rounds += 1
        self.trimmed += dropped
        return dropped

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                dropped = await self.trim_all()
                if dropped:
                    logger.info("retention: trimmed %d records", dropped)
            except AionError as exc:
                # An outage must not end retention for good: try again next round.
                logger.warning(
                    "retention: trimming failed, retrying in %ss: %s", self.interval_seconds, exc
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_seconds)
