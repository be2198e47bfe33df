"""The one table of backends the three conformance suites run on.

Each contract (EventStore, StreamLog, Timeseries) lists its backends here, in the order its
suite runs them. A backend names the local service it needs: its tests carry the ``service``
mark, and ``tests.support.services.require`` skips them when the service is down (and fails
them in CI, where every service must run). ``event_store_url`` and ``stream_log_url`` give one
test its own isolated backend; the timeseries suite builds its clients in its conftest.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import NATS_URL, REDIS_URL, require


@dataclass(frozen=True)
class Backend:
    """A backend by the name its tests carry, and the local service it needs (if any)."""

    name: str
    service: str | None = None

    def param(self) -> Any:
        """The pytest parameter for this backend: its name, marked ``service`` if it needs one."""
        marks = [pytest.mark.service] if self.service else []
        return pytest.param(self.name, marks=marks, id=self.name)


MEMORY = Backend("memory")
SQLITE = Backend("sqlite")
POSTGRESQL = Backend("postgresql", "postgresql")
REDIS = Backend("redis", "redis")
NATS = Backend("nats", "nats")
MARIADB = Backend("mariadb", "mariadb")

EVENT_STORES = (MEMORY, SQLITE, POSTGRESQL)
STREAM_LOGS = (MEMORY, SQLITE, POSTGRESQL, REDIS, NATS)
SHARED_STREAM_LOGS = (SQLITE, POSTGRESQL, REDIS, NATS)
"""The StreamLog backends several servers can share (SQLite: two connections to one file)."""
TIMESERIES = (MEMORY, REDIS, SQLITE, POSTGRESQL, MARIADB)


def params(table: tuple[Backend, ...]) -> list[Any]:
    """A table as ``pytest.fixture(params=...)`` takes it."""
    return [backend.param() for backend in table]


def unique(prefix: str = "t") -> str:
    """A name no other test (or test run) uses."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def _postgres(request: pytest.FixtureRequest) -> str:
    """This session's own PostgreSQL database (the fixture requires the service)."""
    url: str = request.getfixturevalue("postgres_url")
    return url


def event_store_url(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of EventStore backend ``name`` for one test."""
    if name == MEMORY.name:
        return "memory://"
    if name == SQLITE.name:
        return f"sqlite:///{tmp_path}/events.db"
    assert name == POSTGRESQL.name, name
    return _postgres(request)


def stream_log_url(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of StreamLog backend ``name`` for one test, under a prefix of its own."""
    if name == MEMORY.name:
        return "memory://"
    if name == SQLITE.name:
        return f"sqlite:///{tmp_path}/streams.db"
    if name == POSTGRESQL.name:
        return _postgres(request)
    if name == REDIS.name:
        require("redis")
        return f"{REDIS_URL}?prefix={unique('aiontest:')}"
    assert name == NATS.name, name
    require("nats")
    return f"{NATS_URL}?prefix={unique('AIONT')}"
