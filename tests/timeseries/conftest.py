"""Backends for the conformance suite, from ``tests.support.backends.TIMESERIES``.

``make_ts`` builds a Timeseries on the backend under test, isolated from every other test: a
unique Redis key prefix, a fresh SQLite file, unique SQL table names (dropped afterwards).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aion.timeseries import MemoryDatabase, Timeseries
from tests.support.backends import TIMESERIES, params
from tests.support.services import MARIADB_URL, REDIS_URL, require

MakeTs = Callable[..., Timeseries]


@pytest.fixture(scope="session")
def pg_engine(postgres_url: str) -> Iterator[Any]:
    import sqlalchemy as sa

    url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def maria_engine() -> Iterator[Any]:
    require("mariadb")
    import sqlalchemy as sa

    engine = sa.create_engine(MARIADB_URL)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def redis_client() -> Iterator[Any]:
    require("redis")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture(params=params(TIMESERIES))
def backend(request: pytest.FixtureRequest) -> str:
    """Every timeseries backend in turn (the ones that need a service are marked ``service``)."""
    name: str = request.param
    return name


@pytest.fixture
def make_ts(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeTs]:
    """A factory of Timeseries on ``backend``; everything it made is cleaned up."""
    made: list[Timeseries] = []
    tag = uuid.uuid4().hex[:10]
    client: Any
    if backend == "memory":
        client, options = MemoryDatabase(), {}
    elif backend == "redis":
        client, options = request.getfixturevalue("redis_client"), {"prefix": f"aiontest-{tag}"}
    elif backend == "sqlite":
        client, options = f"sqlite:///{tmp_path / 'ts.db'}", {}
    elif backend == "postgresql":
        client, options = request.getfixturevalue("pg_engine"), {}
    else:
        client, options = request.getfixturevalue("maria_engine"), {}

    def make(**kwargs: Any) -> Timeseries:
        settings = {**options, **kwargs}
        if backend in ("postgresql", "mariadb") and "table_name" not in settings:
            settings["table_name"] = f"ts_{tag}_{len(made)}"
        ts = Timeseries(client, **settings)
        made.append(ts)
        return ts

    yield make
    for ts in made:
        ts.delete_all()
    for ts in made:
        table = getattr(ts.store, "table", None)
        if table is not None and backend in ("postgresql", "mariadb"):
            table.drop(ts.store.engine, checkfirst=True)  # type: ignore[attr-defined]
            checkpoints = ts.store.checkpoints  # type: ignore[attr-defined]
            checkpoints.drop(ts.store.engine, checkfirst=True)  # type: ignore[attr-defined]
        ts.close()
