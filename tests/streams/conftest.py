from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aion.streams.protocol import StreamLog
from tests.support.backends import STREAM_LOGS, params, stream_log_url, unique
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
