"""Real uvicorn servers in background threads, on loopback ports, for the tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn

from aion.server.ops.connection import DEFAULT_LIMITS, WireLimits, uvicorn_options


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """Serves ``app`` on 127.0.0.1:``port`` until ``stop``; ``start`` again on the same port
    (a test of a server that goes down and comes back). Connections go through the protocol
    ``aion serve`` uses, with ``limits``."""

    def __init__(
        self,
        app: Any,
        port: int | None = None,
        lifespan: Literal["on", "off"] = "on",
        limits: WireLimits = DEFAULT_LIMITS,
    ) -> None:
        self.app = app
        self.port = port or free_port()
        self.lifespan = lifespan
        self.limits = limits
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this; without it small responses can wait on
        # delayed ACKs.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan=self.lifespan,
            timeout_graceful_shutdown=2,
            **uvicorn_options(self.limits),
        )
        # Off the main thread uvicorn leaves signal handling alone.
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                sock.close()
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        self._server, self._thread, self._socket = server, thread, sock

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None


@contextmanager
def running(
    app: Any,
    port: int | None = None,
    lifespan: Literal["on", "off"] = "on",
    limits: WireLimits = DEFAULT_LIMITS,
) -> Iterator[LiveServer]:
    """Serve ``app`` for the duration of the block."""
    server = LiveServer(app, port, lifespan, limits)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def serve(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL."""
    with running(app, port) as server:
        yield server.url
