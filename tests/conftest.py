from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support.databases import fresh_postgres_database
from tests.support.kronos import kronos_test_config
from tests.support.live import serve

# A shared, busy machine makes input generation slow at times: the health checks that measure
# speed would then fail a correct test. Deadlines are off for the same reason; the properties
# themselves are unchanged.
settings.register_profile(
    "aion",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("aion")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    with fresh_postgres_database(f"aion_test_{os.getpid()}") as url:
        yield url


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """A live Aion server with the Kronos test configuration (a backend named memory)."""
    from aion.server.app import create_app

    with serve(create_app(kronos_test_config(tmp_path))) as url:
        yield url
