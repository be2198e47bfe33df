"""The threaded shipper: ``put`` appends under a lock; one daemon thread sends batches.

``flush(timeout)`` sends from the calling thread under the same send mutex as the sender thread,
so there is never more than one batch on the wire and a flush works whether or not the thread
runs. At interpreter exit every live shipper gets a bounded flush (``exit_timeout``), then what
is left goes to the spool. After ``fork()`` the child starts empty, with fresh locks, a fresh
HTTP client and no thread until its first ``put``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from aion.client.shipper.base import AttemptResult, ShipperBase
from aion.client.shipper.buffer import ActionKind, Batch, PutOutcome, ResultOutcome
from aion.client.shipper.config import OverflowPolicy, ShipperConfig
from aion.client.shipper.counters import Counters

__all__ = ["Shipper"]

logger = logging.getLogger("aion.client.shipper")
_live: weakref.WeakSet[Shipper] = weakref.WeakSet()
_monotonic = time.monotonic


class Shipper(ShipperBase):
    """A buffered event shipper driven by a daemon thread.

    ``put(event, route)`` never does I/O; a batch is POSTed as a JSON array when it is full,
    when its oldest event is ``flush_interval`` old, or on ``flush``. Pass ``http_client`` (or a
    ``transport``, e.g. ``httpx.MockTransport``) to choose the transport.
    """

    def __init__(
        self,
        config: ShipperConfig,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        autostart: bool = True,
        replay: bool = True,
        **hooks: Any,
    ) -> None:
        super().__init__(config, **hooks)
        self._owns_client = http_client is None
        self._transport = transport
        self._http = http_client or self._new_client()
        self._autostart = autostart
        self._closed = False
        self._init_sync()
        if replay:
            self._state.add_replay(self.claim_spool())
        _live.add(self)
        if autostart and not self._state.is_empty:
            self._ensure_thread()

    def _new_client(self) -> httpx.Client:
        return httpx.Client(transport=self._transport, timeout=self.config.send_timeout)

    def _init_sync(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._send_mutex = threading.Lock()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- the hot path ------------------------------------------------------------------------

    def put(self, event: Mapping[str, Any], route: str = "") -> bool:
        """Queue one event for ``route``; True if it was queued, False if it was dropped.

        Under the ``block`` policy this waits up to ``block_timeout`` for room.
        """
        payload = self.encode_event(event)
        state = self._state
        blocking = self.config.overflow is OverflowPolicy.BLOCK
        try:
            with self._lock:
                if self._closed:
                    state.count_dropped()
                    return False
                outcome = state.put(route, payload, _monotonic(), count_full=not blocking)
                if outcome is PutOutcome.FULL and blocking:
                    outcome = self._wait_for_room(route, payload)
                if outcome is not PutOutcome.QUEUED:
                    return False
                if self._thread is None:
                    if self._autostart:
                        self._ensure_thread()
                elif state.wake_sender():
                    self._wake.notify()
            return True
        finally:
            if state.has_overflow:
                self._spill_overflow()

    def _wait_for_room(self, route: str, payload: bytes) -> PutOutcome:
        """Under ``block``, with the lock held: wait up to ``block_timeout`` for room; then
        make room by spooling the oldest events when there is a spool, else drop the event."""
        state = self._state
        deadline = _monotonic() + self.config.block_timeout
        outcome = PutOutcome.FULL
        while outcome is PutOutcome.FULL:
            remaining = deadline - _monotonic()
            if remaining <= 0 or self._closed:
                if self._spool is not None and not self._closed:
                    return state.put(route, payload, _monotonic())
                state.count_dropped()
                return PutOutcome.FULL
            self._wake.notify()
            self._room.wait(remaining)
            outcome = state.put(route, payload, _monotonic(), count_full=False)
        return outcome

    def _spill_overflow(self) -> None:
        """Write the batches a full buffer evicted to the spool (outside the lock: file I/O)."""
        with self._lock:
            evicted = self._state.take_overflow()
        if evicted:
            logger.info(
                "shipper %s: the buffer is full; spooling its %d oldest events",
                self.config.name,
                sum(len(b) for b in evicted),
            )
            self.spill(evicted)

    @property
    def counters(self) -> Counters:
        """A snapshot of the counters, taken under the lock (the sender thread changes the
        buffer they are counted from)."""
        with self._lock:
            return self._state.counters()

    def held_events(self) -> list[bytes]:
        """The JSON of every event still held, oldest first (for inspection and tests)."""
        with self._lock:
            return self._state.held_payloads()

    def _ensure_thread(self) -> None:
        if self._thread is not None or self._closed:
            return
        thread = threading.Thread(
            target=self._run, name=f"aion-shipper-{self.config.name}", daemon=True
        )
        self._thread = thread
        thread.start()

    # -- the sender thread -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                if not self._step():
                    return
            except Exception:  # the sender never dies; log and carry on
                logger.exception("shipper %s: sender error", self.config.name)
                time.sleep(0.1)

    def _step(self) -> bool:
        """One decision of the sender thread; False when it should stop."""
        self._send_mutex.acquire()
        holding = True
        try:
            with self._lock:
                if self._stopping:
                    return False
                now = _monotonic()
                action = self._state.next_action(now)
                if action.kind is not ActionKind.SEND:
                    # Let a flush in another thread send while this one waits; the lock is
                    # still held, so no wake-up can slip in between.
                    self._send_mutex.release()
                    holding = False
                    wait = None if action.until is None else max(0.0, action.until - now)
                    self._wake.wait(wait)
                    return True
            assert action.batch is not None
            self._attempt(action.batch, None)
        finally:
            if holding:
                self._send_mutex.release()
        return True

    def _attempt(self, batch: Batch, deadline: float | None) -> None:
        """Send one batch once (the send mutex is held) and record the outcome."""
        url, headers, body = self.build_request(batch)
        timeout = self.config.send_timeout
        if deadline is not None:
            timeout = max(0.001, min(timeout, deadline - _monotonic()))
        try:
            response = self._http.post(url, content=body, headers=headers, timeout=timeout)
            result = AttemptResult(response.status_code, response.headers, response.content)
        except httpx.HTTPError as exc:
            result = AttemptResult(None, {}, b"", f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # anything else from the transport: retry, never crash
            logger.exception("shipper %s: unexpected transport error", self.config.name)
            result = AttemptResult(None, {}, b"", f"{type(exc).__name__}: {exc}")
        verdict, retry_after = self.judge(result)
        with self._lock:
            outcome = self._state.on_result(batch, verdict, _monotonic(), retry_after)
            if outcome is not ResultOutcome.RETRY_LATER:
                self._room.notify_all()
        self.settle(outcome, batch, result)
        if outcome is ResultOutcome.SENT and self._spool_dirty:
            # The server is back: replay what an earlier outage spooled.
            replay = self.claim_spool()
            with self._lock:
                self._state.add_replay(replay)
        self._log_counters()

    def _count_spilled(self, batch: Batch) -> None:
        with self._lock:
            self._state.mark_spilled(batch)

    def _count_lost(self, batch: Batch) -> None:
        with self._lock:
            self._state.mark_lost(batch)

    # -- flush, close, exit, fork ------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything held now, from this thread; True only when every event was
        delivered: the buffer emptied in time and no event was refused, dropped or spooled
        since the previous flush (or since the start).

        With no timeout it returns when the buffer is empty, every batch either sent, refused
        or, after its retries, spooled.
        """
        deadline = None if timeout is None else _monotonic() + timeout
        while True:
            remaining = -1.0 if deadline is None else deadline - _monotonic()
            if deadline is not None and remaining <= 0:
                return self._state.is_empty
            if not self._send_mutex.acquire(timeout=remaining):
                return False
            try:
                with self._lock:
                    now = _monotonic()
                    action = self._state.next_action(now, flushing=True)
                    if action.kind is ActionKind.IDLE:
                        return self._state.clean_since_last_flush()
                if action.kind is ActionKind.SEND:
                    assert action.batch is not None
                    self._attempt(action.batch, deadline)
                    continue
            finally:
                self._send_mutex.release()
            assert action.until is not None
            if deadline is not None and action.until > deadline:
                return False
            # The pending batch waits for its retry: wake when it is due, or as soon as the
            # sender thread settles it.
            with self._lock:
                if self._state.has_pending:
                    self._room.wait(max(0.0, action.until - _monotonic()))

    def close(self, timeout: float | None = None) -> bool:
        """Flush for up to ``timeout`` (default ``exit_timeout``), stop, spool what is left.

        True when everything was sent. Later ``put`` calls count their events as dropped.
        """
        with self._lock:
            if self._closed:
                return self._state.is_empty
            self._closed = True
            self._room.notify_all()
        budget = self.config.exit_timeout if timeout is None else timeout
        deadline = _monotonic() + budget
        emptied = self.flush(budget)
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.05, deadline - _monotonic()))
        with self._lock:
            leftovers = self._state.drain()
        self.spill(leftovers)
        self._log_counters()
        if self._owns_client:
            self._http.close()
        _live.discard(self)
        return emptied and not leftovers

    def __enter__(self) -> Shipper:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _after_fork_in_child(self) -> None:
        # The parent's lock may have been held by one of its threads at fork time, and its
        # buffer is the parent's to send: start over with nothing.
        self._init_sync()
        self._state.reset()
        self._counter_log.reset()
        self._spool_dirty = False
        if self._owns_client:
            # The parent's connections are not ours to use; leave them to the parent.
            self._http = self._new_client()


def _close_all_at_exit() -> None:
    for shipper in list(_live):
        try:
            shipper.close()
        except Exception:
            logger.exception("shipper %s: failed to close at exit", shipper.config.name)


def _reinit_in_child() -> None:
    for shipper in list(_live):
        shipper._after_fork_in_child()


atexit.register(_close_all_at_exit)
os.register_at_fork(after_in_child=_reinit_in_child)
