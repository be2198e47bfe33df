"""The asyncio shipper: the same state machine as ``Shipper``, driven by one asyncio task.

``put`` is a plain (non-blocking) method to call from the event loop's thread; ``aput`` waits
for room under the ``block`` policy. The task starts on the first ``put`` inside a running
loop (or on ``start()`` / ``async with``). At interpreter exit the loop can no longer run, so a
shipper that was not closed spools what it still holds, for replay on the next start.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import time
import weakref
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from aion.client.shipper.base import AttemptResult, ShipperBase
from aion.client.shipper.buffer import ActionKind, Batch, PutOutcome, ResultOutcome
from aion.client.shipper.config import OverflowPolicy, ShipperConfig

__all__ = ["AsyncShipper"]

logger = logging.getLogger("aion.client.shipper")
_live: weakref.WeakSet[AsyncShipper] = weakref.WeakSet()
_monotonic = time.monotonic


class AsyncShipper(ShipperBase):
    """A buffered event shipper driven by an asyncio task, over ``httpx.AsyncClient``."""

    def __init__(
        self,
        config: ShipperConfig,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        replay: bool = True,
        **hooks: Any,
    ) -> None:
        super().__init__(config, **hooks)
        self._owns_client = http_client is None
        self._transport = transport
        self._http = http_client or self._new_client()
        self._closed = False
        self._init_async()
        if replay:
            self._state.add_replay(self.claim_spool())
        _live.add(self)

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self._transport, timeout=self.config.send_timeout)

    def _init_async(self) -> None:
        # asyncio primitives bind to a loop lazily (3.10+), so they can be made here.
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._send_mutex = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # -- the hot path ------------------------------------------------------------------------

    def put(self, event: Mapping[str, Any], route: str = "") -> bool:
        """Queue one event without waiting; True if queued. Under ``block`` a full buffer
        refuses the event here (use ``aput`` to wait for room)."""
        payload = self.encode_event(event)
        state = self._state
        if self._closed:
            state.count_dropped()
            return False
        queued = state.put(route, payload, _monotonic()) is PutOutcome.QUEUED
        if state.has_overflow:
            self._spill_overflow()
        if not queued:
            return False
        if self._task is None:
            self._start_if_loop()
        elif state.wake_sender():
            self._wake.set()
        return True

    async def aput(self, event: Mapping[str, Any], route: str = "") -> bool:
        """Queue one event, waiting up to ``block_timeout`` for room under ``block``."""
        if self.config.overflow is not OverflowPolicy.BLOCK:
            return self.put(event, route)
        payload = self.encode_event(event)
        state = self._state
        deadline = _monotonic() + self.config.block_timeout
        while not self._closed:
            if state.put(route, payload, _monotonic(), count_full=False) is PutOutcome.QUEUED:
                if self._task is None:
                    self._start_if_loop()
                self._wake.set()
                return True
            remaining = deadline - _monotonic()
            if remaining <= 0:
                if self._spool is not None:
                    return self.put(event, route)  # make room by spooling the oldest events
                break
            self._room.clear()
            self._wake.set()
            try:
                await asyncio.wait_for(self._room.wait(), remaining)
            except TimeoutError:
                break
        state.count_dropped()
        return False

    def _spill_overflow(self) -> None:
        """Write the batches a full buffer evicted to the spool."""
        evicted = self._state.take_overflow()
        if evicted:
            logger.info(
                "shipper %s: the buffer is full; spooling its %d oldest events",
                self.config.name,
                sum(len(b) for b in evicted),
            )
            self.spill(evicted)

    def _start_if_loop(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the first put inside one, or start(), begins sending
        self.start()

    def start(self) -> None:
        """Start the sender task on the running loop (idempotent)."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"aion-shipper-{self.config.name}"
            )

    # -- the sender task ---------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._closed:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:  # the sender never dies; log and carry on
                logger.exception("shipper %s: sender error", self.config.name)
                await asyncio.sleep(0.1)

    async def _step(self) -> None:
        async with self._send_mutex:
            now = _monotonic()
            action = self._state.next_action(now)
            if action.kind is ActionKind.SEND:
                assert action.batch is not None
                await self._attempt(action.batch, None)
                return
        self._wake.clear()
        wait = None if action.until is None else max(0.0, action.until - now)
        try:
            await asyncio.wait_for(self._wake.wait(), wait)
        except TimeoutError:
            pass

    async def _attempt(self, batch: Batch, deadline: float | None) -> None:
        url, headers, body = self.build_request(batch)
        timeout = self.config.send_timeout
        if deadline is not None:
            timeout = max(0.001, min(timeout, deadline - _monotonic()))
        try:
            response = await self._http.post(url, content=body, headers=headers, timeout=timeout)
            result = AttemptResult(response.status_code, response.headers, response.content)
        except httpx.HTTPError as exc:
            result = AttemptResult(None, {}, b"", f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            logger.exception("shipper %s: unexpected transport error", self.config.name)
            result = AttemptResult(None, {}, b"", f"{type(exc).__name__}: {exc}")
        verdict, retry_after = self.judge(result)
        outcome = self._state.on_result(batch, verdict, _monotonic(), retry_after)
        if outcome is not ResultOutcome.RETRY_LATER:
            self._room.set()
        self.settle(outcome, batch, result)
        if outcome is ResultOutcome.SENT and self._spool_dirty:
            self._state.add_replay(self.claim_spool())
        self._log_counters()

    # -- flush, close, exit, fork ------------------------------------------------------------

    async def flush(self, timeout: float | None = None) -> bool:
        """Send everything held now; True only when every event was delivered: the buffer
        emptied within ``timeout`` and no event was refused, dropped or spooled since the
        previous flush (or since the start)."""
        deadline = None if timeout is None else _monotonic() + timeout
        while True:
            if deadline is not None and deadline - _monotonic() <= 0:
                return self._state.is_empty
            try:
                await asyncio.wait_for(
                    self._send_mutex.acquire(),
                    None if deadline is None else deadline - _monotonic(),
                )
            except TimeoutError:
                return False
            try:
                action = self._state.next_action(_monotonic(), flushing=True)
                if action.kind is ActionKind.IDLE:
                    return self._state.clean_since_last_flush()
                if action.kind is ActionKind.SEND:
                    assert action.batch is not None
                    await self._attempt(action.batch, deadline)
                    continue
            finally:
                self._send_mutex.release()
            assert action.until is not None
            if deadline is not None and action.until > deadline:
                return False
            await asyncio.sleep(max(0.0, action.until - _monotonic()))

    async def close(self, timeout: float | None = None) -> bool:
        """Flush for up to ``timeout`` (default ``exit_timeout``), stop, spool what is left."""
        if self._closed:
            return self._state.is_empty
        self._closed = True
        self._room.set()
        budget = self.config.exit_timeout if timeout is None else timeout
        emptied = await self.flush(budget)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        leftovers = self._state.drain()
        self.spill(leftovers)
        self._log_counters()
        if self._owns_client:
            await self._http.aclose()
        _live.discard(self)
        return emptied and not leftovers

    async def __aenter__(self) -> AsyncShipper:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _spill_at_exit(self) -> None:
        # The loop is gone or stopping: nothing can be sent now, so keep it for the next start.
        if self._closed:
            return
        self._closed = True
        self.spill(self._state.drain())
        self._log_counters()

    def _after_fork_in_child(self) -> None:
        self._init_async()
        self._state.reset()
        self._counter_log.reset()
        self._spool_dirty = False
        if self._owns_client:
            self._http = self._new_client()


def _spill_all_at_exit() -> None:
    for shipper in list(_live):
        try:
            shipper._spill_at_exit()
        except Exception:
            logger.exception("shipper %s: failed to spool at exit", shipper.config.name)


def _reinit_in_child() -> None:
    for shipper in list(_live):
        shipper._after_fork_in_child()


atexit.register(_spill_all_at_exit)
os.register_at_fork(after_in_child=_reinit_in_child)
