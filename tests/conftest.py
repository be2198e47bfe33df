from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support.kronos import kronos_test_config
from tests.support.live import serve
from tests.support.services import POSTGRES_URL, require

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
    require("postgresql")
    import psycopg

    name = f"aion_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_URL.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """A live Aion server with the Kronos test configuration (a backend named memory)."""
    from aion.server.app import create_app

    with serve(create_app(kronos_test_config(tmp_path))) as url:
        yield url
