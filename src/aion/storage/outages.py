"""How a store notices that its backend is down or cannot take writes, and when it is back.

- :class:`Breaker`: after a lost connection the store stops sending requests to the backend;
  each fails at once with ``BackendUnavailable`` while one background task tries to reconnect,
  right away and then every ``interval`` seconds, and service resumes after the first attempt
  that succeeds. Without it every request waits out the pool's connect timeout, and the pool's
  own reconnection backs off exponentially (1, 2, 4, 8 … s), so service came back many seconds
  after the database did.
- :class:`WriteFailures`: the backend answers but its writes fail (a full disk); readiness
  reports it until a write succeeds again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aion.errors import BackendUnavailable

__all__ = ["RECONNECT_INTERVAL_SECONDS", "Breaker", "WriteFailures"]

RECONNECT_INTERVAL_SECONDS = 0.5
log = logging.getLogger("aion.storage.outages")


class Breaker:
    """Open while ``backend`` is down: ``check`` raises at once, ``reconnect`` is retried in
    the background until it returns, which closes the breaker."""

    def __init__(
        self,
        backend: str,
        reconnect: Callable[[], Awaitable[None]],
        interval: float = RECONNECT_INTERVAL_SECONDS,
    ) -> None:
        self.backend = backend
        self.interval = interval
        self._reconnect = reconnect
        self.reason: str | None = None
        """Why the breaker is open; None while it is closed."""
        self.attempts = 0
        """Reconnection attempts finished since the breaker last opened."""
        self._task: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        return self.reason is not None

    def check(self) -> None:
        """Raise ``BackendUnavailable`` while the breaker is open."""
        if self.reason is not None:
            raise BackendUnavailable(self.backend, f"{self.reason} (reconnecting)")

    def trip(self, reason: str) -> None:
        """Open the breaker (if closed) and start reconnecting in the background."""
        if self.reason is not None:
            return
        log.warning(
            "%s is down (%s); reconnecting every %.1fs", self.backend, reason, self.interval
        )
        self.reason = reason
        self.attempts = 0
        self._task = asyncio.get_running_loop().create_task(
            self._recover(), name=f"aion-{self.backend}-reconnect"
        )

    async def close(self) -> None:
        """Stop reconnecting (the store is closing) and close the breaker: a store opened
        again tries to connect afresh."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.reason = None

    async def _recover(self) -> None:
        while True:
            try:
                await self._reconnect()
            except BackendUnavailable as exc:
                log.debug("%s: reconnection attempt failed: %s", self.backend, exc)
            except Exception:  # an unexpected failure must not end the reconnecting for good
                log.exception("%s: reconnection attempt failed unexpectedly", self.backend)
            else:
                self.attempts += 1
                log.warning("%s is back after %d attempt(s)", self.backend, self.attempts)
                self.reason = None
                self._task = None
                return
            self.attempts += 1
            await asyncio.sleep(self.interval)


class WriteFailures:
    """Whether the last write failed for a reason of the backend's (not of the request's)."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.problem: str | None = None
        """Why writes fail (e.g. ``disk full``); None while they succeed."""

    def failed(self, problem: str) -> None:
        if self.problem is None:
            log.warning("%s: writes are failing: %s", self.backend, problem)
        self.problem = problem

    def succeeded(self) -> None:
        if self.problem is not None:
            log.warning("%s: writes succeed again (they failed: %s)", self.backend, self.problem)
        self.problem = None
