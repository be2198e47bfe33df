"""A client that goes away mid-request is one log line, not an error with a traceback.

When a connection closes before its request body is complete (the client gave up, or the
connection's request timeout dropped it), Starlette's ``request.body()`` and
``request.stream()`` raise ``ClientDisconnect``. Unhandled, it reaches uvicorn, which logs
"Exception in ASGI application" at ERROR with a traceback: noise that looks like a server
fault. :class:`ClientDisconnectMiddleware` turns it into one INFO line on
``aion.server.disconnects`` naming the method, path and peer, and records the request as
status 499 (nginx's "client closed request"), which the access log and the metrics then show;
nothing reaches the client, which is gone.
"""

from __future__ import annotations

import logging
from contextlib import suppress

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from aion.server.ops.limits import ResponseWatch

__all__ = ["CLIENT_CLOSED_REQUEST", "ClientDisconnectMiddleware"]

# The logger keeps its documented name (docs/operations.md), not the module path.
log = logging.getLogger("aion.server.disconnects")

CLIENT_CLOSED_REQUEST = 499


class ClientDisconnectMiddleware:
    """Log a ``ClientDisconnect`` as one line and finish the request as a 499."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response = ResponseWatch(send)
        try:
            await self.app(scope, receive, response.send)
        except ClientDisconnect:
            client = scope.get("client")
            peer = f"{client[0]}:{client[1]}" if client else "-"
            method, path = scope.get("method", "-"), scope.get("path", "-")
            log.info(
                "%s %s: the client %s went away before its request was complete",
                method, path, peer, extra={"method": method, "path": path, "client": peer},
            )  # fmt: skip
            if not response.started:
                # The server drops these (the connection is closed); the layers outside see
                # the status. A server may raise OSError for a send to a closed connection.
                with suppress(OSError):
                    await self._record(send)

    @staticmethod
    async def _record(send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": CLIENT_CLOSED_REQUEST,
                "headers": [(b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
