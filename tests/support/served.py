"""A real HTTP server for the shipper tests (their apps run without a lifespan)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.live import LiveServer, free_port, running

__all__ = ["ServedApp", "free_port", "served"]


class ServedApp(LiveServer):
    """``LiveServer`` without a lifespan: the shipper tests' apps need none."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        super().__init__(app, port, lifespan="off")


@contextmanager
def served(app: Any, port: int | None = None) -> Iterator[LiveServer]:
    """Serve ``app`` for the duration of the block."""
    with running(app, port, lifespan="off") as server:
        yield server
