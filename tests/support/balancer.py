"""A round-robin HTTP load balancer for the cluster tests: an ASGI app that sends each request
to the next server in turn, as nginx or HAProxy do with ``balance roundrobin``.

Requests are balanced one by one, not per connection, so a client with one keep-alive
connection still moves between servers at every call (what breaks a per-server iterator
secret). A server that refuses the connection is skipped and the next one tried, as nginx's
``proxy_next_upstream error`` does: the request never reached it, so trying it elsewhere is
safe. Any other failure is the client's to see (a 502), since the request may have run.
Bodies are buffered whole both ways, enough for the JSON and Kinesis calls the tests make.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Sequence

import httpx
from starlette.types import Receive, Scope, Send

__all__ = ["RoundRobin"]

_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade", b"host",
     b"content-length", b"proxy-connection", b"trailer"}
)  # fmt: skip


class RoundRobin:
    """Serve it with :func:`tests.support.live.serve`; ``served`` counts answers per server."""

    def __init__(self, servers: Sequence[str], timeout: float = 30.0) -> None:
        self.servers = list(servers)
        self.served: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self._timeout = timeout

    def _order(self) -> list[str]:
        with self._lock:
            first = next(self._turn) % len(self.servers)
        return self.servers[first:] + self.servers[:first]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["raw_path"].decode() or scope["path"]
        if scope["query_string"]:
            path += "?" + scope["query_string"].decode()
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        answer = await self._forward(scope["method"], path, headers, bytes(body))
        out = [(k.lower(), v) for k, v in answer.headers.raw if k.lower() not in _HOP_BY_HOP]
        out.append((b"content-length", str(len(answer.content)).encode()))
        await send({"type": "http.response.start", "status": answer.status_code, "headers": out})
        await send({"type": "http.response.body", "body": answer.content})

    async def _forward(
        self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> httpx.Response:
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            for server in self._order():
                try:
                    answer = await client.request(
                        method, server + path, headers=headers, content=body
                    )
                except httpx.ConnectError:
                    with self._lock:
                        self.skipped[server] += 1
                    continue  # never reached it: the next server may take it
                except httpx.HTTPError as exc:
                    return httpx.Response(502, text=f"balancer: {server}: {exc!r}")
                with self._lock:
                    self.served[server] += 1
                return answer
        return httpx.Response(502, text="balancer: no server accepted the connection")
