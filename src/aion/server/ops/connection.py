"""HTTP/1.1 connections: uvicorn's httptools protocol with a cap on request heads and a clock
on requests that stall.

Left alone, uvicorn bounds neither the size of a request head under httptools (400 MB of
headers became 400 MB of server memory) nor the time a client may take to send a request (a
body shorter than its ``Content-Length`` held its connection for good).
:class:`LimitedHttpToolsProtocol` adds both:

- **Head size.** A request's line and header fields total at most ``max_header_bytes``, in at
  most ``max_headers`` fields. Past either the answer is 431 (414 when the request target alone
  is too long) and the connection closes. Bytes are counted as they arrive, before the parser
  has seen the end of a header, so memory held for a head that never ends stays near the cap.
- **Time.** A request head must be complete within ``request_timeout_seconds`` of its first
  byte (of the connection opening, for a connection's first request), however slowly it
  trickles. While a body arrives, no pause between its bytes may last longer. Past either the
  answer is 408 (unless a response has begun) and the connection closes; the app, if it was
  reading the body, sees the client disconnect. Once a request is fully received its clock
  stops, so a long response (a long-poll read, a server-sent event stream) is never cut. Time
  the server itself keeps the client waiting (uvicorn's flow control, a pipelined request
  waiting for the one before it, an ``Expect: 100-continue`` the app has not answered yet)
  does not count against the client.

A refusal is logged as one WARNING line on ``aion.server.connection``. After a 431 the server
still reads and discards what the client sends for up to :data:`LINGER_SECONDS` before it
closes, so the client can read the answer instead of a connection reset.

uvicorn builds its protocol as ``http(config=..., server_state=..., app_state=..., _loop=...)``;
:func:`uvicorn_options` binds the limits to the class with ``functools.partial``, which
pickles, so ``aion serve --workers N`` hands the same limits to each worker.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
from dataclasses import dataclass
from typing import Any

import httptools
import msgspec
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from aion.server.config import AionConfig

__all__ = [
    "DEFAULT_LIMITS",
    "LINGER_SECONDS",
    "LimitedHttpToolsProtocol",
    "WireLimits",
    "uvicorn_options",
]

# The logger keeps its documented name (docs/operations.md), not the module path.
log = logging.getLogger("aion.server.connection")

LINGER_SECONDS = 2.0
"""How long a refused connection is still read (and discarded) after its answer is sent."""

_CLOCK_SLACK = 0.005
"""Timers may fire a hair early (libuv rounds to milliseconds); this close is due."""


@dataclass(frozen=True, slots=True)
class WireLimits:
    """What one HTTP connection may ask of the server (see the module docstring)."""

    max_header_bytes: int = 65_536
    max_headers: int = 100
    request_timeout_seconds: float = 30.0

    @classmethod
    def from_config(cls, config: AionConfig) -> WireLimits:
        """The limits ``aion.toml`` sets."""
        return cls(
            max_header_bytes=config.max_header_bytes,
            max_headers=config.max_headers,
            request_timeout_seconds=config.request_timeout_seconds,
        )


DEFAULT_LIMITS = WireLimits()


def uvicorn_options(limits: WireLimits) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` that apply ``limits``.

    ``h11_max_incomplete_event_size`` bounds the head too should someone select uvicorn's h11
    protocol instead (h11 has no header count or request clock)."""
    return {
        "http": functools.partial(LimitedHttpToolsProtocol, limits=limits),
        "h11_max_incomplete_event_size": limits.max_header_bytes,
    }


class _Waiting(enum.Enum):
    """What the connection is waiting for from its client."""

    HEAD = "head"
    BODY = "body"


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`WireLimits` applied."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: WireLimits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._waiting: _Waiting | None = None
        self._head_deadline = 0.0
        self._last_bytes_at = 0.0
        # Bytes received since the current head began: an upper bound (a chunk that ends a
        # head may carry body bytes too), and what bounds the parser's buffering.
        self._raw_head_bytes = 0
        self._head_bytes = 0  # as parsed: target, names and values
        self._header_count = 0
        self._finished = False  # refused, dropped or upgraded: parse nothing more
        self._timer: asyncio.TimerHandle | None = None

    # Connection events

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head(self.loop.time())

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self._waiting = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's, with the head's bytes counted, and nothing parsed or answered after a
        # refusal (the parser goes on to the end of a chunk; its callbacks do nothing then).
        if self._is_finished():
            return  # refused: what still arrives is discarded
        self._unset_keepalive_if_required()
        self._last_bytes_at = self.loop.time()
        if self._waiting is not _Waiting.BODY:
            self._raw_head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if not self._is_finished():
                message = "Invalid HTTP request received."
                self.logger.warning(message)
                self.send_400_response(message)
            return
        except httptools.HttpParserUpgrade:
            if self._is_finished():
                return
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if (
            not self._is_finished()
            and self._waiting is not _Waiting.BODY
            and self._raw_head_bytes > self.limits.max_header_bytes
        ):
            self._refuse(431, f"the request head is over {self.limits.max_header_bytes} bytes")

    def handle_websocket_upgrade(self) -> None:
        self._finish()
        super().handle_websocket_upgrade()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._waiting is _Waiting.HEAD:
            # A pipelined head that began while the server was busy: its time starts now.
            self._head_deadline = max(self._head_deadline, self._deadline_from(self.loop.time()))

    # Parser callbacks

    def on_message_begin(self) -> None:
        if self._finished:
            return
        super().on_message_begin()
        self._head_bytes = 0
        self._header_count = 0
        if self._waiting is not _Waiting.HEAD:  # a new connection's clock began at connect
            self._await_head(self.loop.time())

    def on_url(self, url: bytes) -> None:
        if self._finished:
            return
        super().on_url(url)
        self._head_bytes += len(url)
        if self._head_bytes > self.limits.max_header_bytes:
            self._refuse(414, f"the request target is over {self.limits.max_header_bytes} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._finished:
            return
        self._header_count += 1
        self._head_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._header_count > self.limits.max_headers:
            self._refuse(431, f"the request has over {self.limits.max_headers} header fields")
        elif self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, f"the request head is over {self.limits.max_header_bytes} bytes")
        else:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._finished:
            return
        self._raw_head_bytes = 0
        self._waiting = _Waiting.BODY
        self._last_bytes_at = self.loop.time()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._finished:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._finished:
            return
        self._waiting = None  # the request is whole: no clock on its response
        super().on_message_complete()

    # The clock

    def _deadline_from(self, now: float) -> float:
        return now + self.limits.request_timeout_seconds

    def _await_head(self, now: float) -> None:
        self._waiting = _Waiting.HEAD
        self._head_deadline = self._deadline_from(now)
        self._arm(self._head_deadline)

    def _arm(self, when: float) -> None:
        # One timer per connection, moved only when it fires: a request costs no timer calls.
        if self._timer is None:
            self._timer = self.loop.call_at(when, self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _server_busy(self) -> bool:
        """Whether the server, not the client, is why no bytes arrive: reading is paused
        (uvicorn's flow control, or a pipelined request waits for the one before it), the
        app has not yet asked for a body the client sends only after "100 Continue", or a
        head began while the response before it is still being sent."""
        if self.flow.read_paused:
            return True
        cycle: RequestResponseCycle | None = self.cycle  # None before a first request
        if cycle is None:
            return False
        if self._waiting is _Waiting.BODY:
            return cycle.waiting_for_100_continue
        return not cycle.response_complete

    def _on_timer(self) -> None:
        self._timer = None
        if self._waiting is None or self._finished or self.transport.is_closing():
            return
        now = self.loop.time()
        if self._server_busy():
            # The client's clock starts again from now; looking again at a quarter of the
            # timeout leaves it at least three quarters once the server is ready.
            self._head_deadline = max(self._head_deadline, self._deadline_from(now))
            self._last_bytes_at = max(self._last_bytes_at, now)
            self._arm(now + self.limits.request_timeout_seconds / 4)
            return
        if self._waiting is _Waiting.HEAD:
            due = self._head_deadline
        else:
            due = self._deadline_from(self._last_bytes_at)
        if now + _CLOCK_SLACK < due:
            self._arm(due)
            return
        self._drop_stalled()

    # Endings

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "-"

    def _drop_stalled(self) -> None:
        timeout = self.limits.request_timeout_seconds
        if self._waiting is _Waiting.HEAD:
            self._finish()
            if self._raw_head_bytes == 0:  # a connection that never sent a byte
                self.transport.close()
                return
            log.warning(
                "dropped %s: its request head was not complete within %gs",
                self._peer(), timeout, extra={"client": self._peer()},
            )  # fmt: skip
            self._respond_and_close(408, f"the request head took over {timeout:g}s")
            return
        cycle = self.cycle
        log.warning(
            "dropped %s: its request body paused for over %gs (%s %s)",
            self._peer(), timeout, self.scope.get("method", "-"), self.scope.get("path", "-"),
            extra={"client": self._peer()},
        )  # fmt: skip
        self._finish()
        answered = cycle.response_started
        # As far as the app knows, the client is gone: its next receive is http.disconnect.
        cycle.disconnected = True
        cycle.message_event.set()
        if answered:
            self.transport.close()
        else:
            self._respond_and_close(408, f"the request body paused for over {timeout:g}s")

    def _refuse(self, status: int, message: str) -> None:
        self._finish()
        log.warning("refused %s with %d: %s", self._peer(), status, message)
        previous: RequestResponseCycle | None = self.cycle
        if previous is not None and not previous.response_complete:
            self.transport.close()  # a response is on the wire: no room for another
            return
        self._respond_and_close(status, message, linger=True)

    def _is_finished(self) -> bool:
        # A method, not the attribute: the parser's callbacks may set it during a call.
        return self._finished

    def _finish(self) -> None:
        self._finished = True
        self._waiting = None
        self._cancel_timer()

    def _respond_and_close(self, status: int, message: str, linger: bool = False) -> None:
        body = msgspec.json.encode({"@errors": [message], "@success": False})
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(head))
        if linger and self.transport.can_write_eof():
            # Half-close, then discard what the client still sends: closing with unread
            # bytes would reset the connection, and the client might never read the answer.
            self.transport.write_eof()
            self._timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()
