"""The access log: one line per request, as a plain ASGI middleware.

Each line is logged on ``aion.access`` at INFO with the fields ``method``, ``path``,
``status``, ``duration_ms``, ``namespace`` (as the key check resolved it; ``-`` for a request
that touches none), ``key_id`` (when a key was used) and ``client``. The text format prints
them as ``GET /1.0/events/get 200 3.1ms ns=default key=- client=127.0.0.1``; the JSON format
has each as a member. The path is logged without its query string, which may carry keys.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aion.server.ops.auth import KEY_ID_SCOPE, NAMESPACE_SCOPE, scope_value
from aion.server.ops.log_config import ACCESS_LOGGER

__all__ = ["AccessLogMiddleware"]

log = logging.getLogger(ACCESS_LOGGER)


class AccessLogMiddleware:
    """Log every HTTP request once its response is complete (or has failed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app says otherwise: an exception is logged as a 500

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            client = scope.get("client")
            fields = {
                "method": scope.get("method", "-"),
                "path": scope.get("path", "-"),
                "status": status,
                "duration_ms": round(duration_ms, 3),
                "namespace": scope_value(scope, NAMESPACE_SCOPE) or "-",
                "key_id": scope_value(scope, KEY_ID_SCOPE) or "-",
                "client": client[0] if client else "-",
            }
            log.info(
                "%s %s %d %.1fms ns=%s key=%s client=%s",
                fields["method"], fields["path"], status, duration_ms, fields["namespace"],
                fields["key_id"], fields["client"], extra=fields,
            )  # fmt: skip
