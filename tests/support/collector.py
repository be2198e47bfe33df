"""A tiny ingest app for the shipper fault tests: it stores batches once per batch id and can
be told to fail, throttle or stall."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Collector:
    """Events received, by batch id; ``mode`` picks the next answers."""

    mode: str = "ok"  # ok | fail500 | throttle429 | stall | reject400
    stall_seconds: float = 1.0
    retry_after: str = "0"
    fail_first: int = 0
    throttle_first: int = 0
    stall_first: int = 0
    events: list[Any] = field(default_factory=list)
    batch_ids: set[str] = field(default_factory=set)
    requests: int = 0
    duplicates: int = 0
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.requests += 1
            self.headers_seen.append(dict(request.headers))
            mode = self.mode
            if self.fail_first > 0:
                self.fail_first -= 1
                mode = "fail500"
            elif self.throttle_first > 0:
                self.throttle_first -= 1
                mode = "throttle429"
            elif self.stall_first > 0:
                self.stall_first -= 1
                mode = "stall"
        if mode == "fail500":
            return Response(status_code=503)
        if mode == "throttle429":
            return Response(status_code=429, headers={"Retry-After": self.retry_after})
        if mode == "reject400":
            return Response(b'{"error":"bad"}', status_code=400)
        if mode == "stall":
            await asyncio.sleep(self.stall_seconds)
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        batch = json.loads(body)
        batch_id = request.headers.get("x-aion-batch-id", "")
        with self.lock:
            if batch_id and batch_id in self.batch_ids:
                self.duplicates += 1
            else:
                self.batch_ids.add(batch_id)
                self.events.extend(batch)
        return Response(status_code=204)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/ingest", self.endpoint, methods=["POST"])])
