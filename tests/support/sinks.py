"""A list-backed ``EventSink`` for the router tests (a test double of the sink contract)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from aion.errors import BackendUnavailable
from aion.server.ingest.initialstate_api import initialstate_router
from aion.server.ingest.samsara_api import samsara_router


@dataclass
class Ingested:
    namespace: str
    stream: str
    events: list[dict[str, Any]]
    partition_keys: list[str] | None
    batch_id: str | None


@dataclass
class ListSink:
    """Keeps every ingest call; ``down`` makes it raise BackendUnavailable."""

    calls: list[Ingested] = field(default_factory=list)
    down: bool = False

    async def ingest(
        self,
        namespace: str,
        stream: str,
        events: list[dict[str, Any]],
        partition_keys: list[str] | None = None,
        batch_id: str | None = None,
    ) -> None:
        if self.down:
            raise BackendUnavailable("list", "switched off by the test")
        self.calls.append(Ingested(namespace, stream, list(events), partition_keys, batch_id))

    def events(self, stream: str | None = None) -> list[dict[str, Any]]:
        return [e for c in self.calls if stream in (None, c.stream) for e in c.events]


def ingest_app(sink: ListSink) -> FastAPI:
    """The two ingestion routers mounted on a bare FastAPI app."""
    app = FastAPI()
    app.state.sink = sink
    app.include_router(initialstate_router())
    app.include_router(samsara_router())
    return app
