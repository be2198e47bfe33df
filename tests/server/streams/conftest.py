"""A live uvicorn server with the streams routers, over a memory or SQLite StreamLog."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI

from aion.server.config import AionConfig
from aion.server.ops.auth import install_auth
from aion.server.streams import kinesis_api, native_api
from aion.streams.backends.memory import MemoryStreamLog
from aion.streams.backends.sqlite import SQLiteStreamLog
from aion.streams.protocol import StreamLog
from tests.support.live import serve

BACKENDS = ["memory", "sqlite"]


@dataclass(frozen=True)
class LiveServer:
    """A running server: its base URL and the app it serves."""

    url: str
    app: FastAPI
    backend: str


def build_app(data_dir: Path, backend: str) -> FastAPI:
    """The app under test: both streams routers over a fresh StreamLog."""
    stream_log: StreamLog = (
        MemoryStreamLog() if backend == "memory" else SQLiteStreamLog(data_dir / "streams.db")
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await stream_log.open()
        try:
            yield
        finally:
            await stream_log.close()

    app = FastAPI(lifespan=lifespan)
    app.state.stream_log = stream_log
    app.state.config = AionConfig.for_data_dir(data_dir)
    app.include_router(native_api.router())
    app.include_router(kinesis_api.router())
    # The routes act on what the key check parsed (with no key stored, every request passes).
    install_auth(app, app.state.config)
    return app


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server per test module and backend; tests use fresh stream names."""
    backend: str = request.param
    app = build_app(tmp_path_factory.mktemp(f"streams-{backend}"), backend)
    with serve(app) as url:
        yield LiveServer(url, app, backend)


@pytest.fixture
def stream_name() -> str:
    """A stream name no other test uses."""
    return f"s-{uuid.uuid4().hex[:12]}"
