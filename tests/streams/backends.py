"""Open each StreamLog backend for the tests, isolated by a unique prefix, and clean up."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aion.streams.protocol import StreamLog
from tests.services import NATS_URL, REDIS_URL, require

BACKENDS = ["memory", "sqlite", "postgresql", "redis", "nats"]


def unique(prefix: str = "t") -> str:
    """A name no other test (or test run) uses."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def backend_url(name: str, tmp_path: Path, postgres_url: str | None = None) -> str:
    """The URL of backend ``name`` for one test (skips or fails when its service is down)."""
    if name == "memory":
        return "memory://"
    if name == "sqlite":
        return f"sqlite:///{tmp_path}/streams.db"
    if name == "postgresql":
        assert postgres_url is not None
        return postgres_url
    if name == "redis":
        require("redis")
        return f"{REDIS_URL}?prefix={unique('aiontest:')}"
    require("nats")
    return f"{NATS_URL}?prefix={unique('AIONT')}"


def open_log(url: str) -> StreamLog:
    """Any backend by URL, through the one registry."""
    from aion.streams.registry import open_stream_log

    return open_stream_log(url)


@asynccontextmanager
async def opened(url: str, namespace: str) -> AsyncIterator[StreamLog]:
    """An opened backend whose streams in ``namespace`` are deleted afterwards."""
    log = open_log(url)
    await log.open()
    try:
        yield log
    finally:
        for stream in await log.list_streams(namespace):
            await log.delete_stream(namespace, stream)
        await log.close()
