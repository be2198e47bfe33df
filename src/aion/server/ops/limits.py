"""Plain ASGI middleware: the request-body size limit, and the response watch the middlewares
that answer in the app's place share."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aion.server.errors import TooLarge, kronos_error

__all__ = ["BodyLimitMiddleware", "ResponseWatch"]


class ResponseWatch:
    """Wraps an ASGI ``send``: ``started`` tells whether the response has begun, so a
    middleware knows whether it may still answer in the app's place."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def send(self, message: Message) -> None:
        """Pass ``message`` on, noting the start of the response."""
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Answer 413 when a request body is larger than ``limit`` bytes.

    Checks ``Content-Length`` first and counts the bytes actually received too, so a chunked
    body cannot slip past the limit. The refusal is in the Kronos envelope on every route (it
    comes before any route is chosen), as the OpenAPI document says.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(scope, receive, send)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        response = ResponseWatch(send)
        try:
            await self.app(scope, counting_receive, response.send)
        except _TooLarge:
            if not response.started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = TooLarge(f"request body is larger than the limit of {self.limit} bytes", "body")
        await kronos_error(refusal)(scope, receive, send)
