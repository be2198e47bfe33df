from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aion.streams.protocol import StreamLog
from tests.streams.backends import BACKENDS, backend_url, opened, unique


@pytest.fixture
def ns() -> str:
    """A namespace of this test's own."""
    return unique("ns")


@pytest.fixture(params=BACKENDS)
async def log(request: pytest.FixtureRequest, tmp_path: Path, ns: str) -> AsyncIterator[StreamLog]:
    """Every StreamLog backend in turn, opened, cleaned up after the test."""
    pg = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    async with opened(backend_url(request.param, tmp_path, pg), ns) as backend:
        yield backend
