from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aion.streams.protocol import StreamLog
from tests.support.backends import SHARED_STREAM_LOGS, STREAM_LOGS, params, stream_log_url, unique
from tests.support.stream_logs import opened


@pytest.fixture
def ns() -> str:
    """A namespace of this test's own."""
    return unique("ns")


@pytest.fixture(params=params(STREAM_LOGS))
async def log(request: pytest.FixtureRequest, tmp_path: Path, ns: str) -> AsyncIterator[StreamLog]:
    """Every StreamLog backend in turn, opened, cleaned up after the test."""
    async with opened(stream_log_url(request.param, tmp_path, request), ns) as backend:
        yield backend


@pytest.fixture(params=params(SHARED_STREAM_LOGS))
async def two_logs(
    request: pytest.FixtureRequest, tmp_path: Path, ns: str
) -> AsyncIterator[tuple[StreamLog, StreamLog]]:
    """Two independent StreamLogs on one engine, as two servers have: each with caches of
    its own. Every backend that can be shared, in turn."""
    url = stream_log_url(request.param, tmp_path, request)
    async with opened(url, ns) as first, opened(url, ns) as second:
        yield first, second
