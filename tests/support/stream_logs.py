"""Open a StreamLog backend by URL for the tests, and clean up after them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aion.streams.protocol import StreamLog


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
