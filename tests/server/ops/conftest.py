"""An app over the memory backend with a set of API keys, one per case the tests need."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aion.server.app import create_app
from tests.support.databases import fresh_postgres_database
from tests.support.keys import Keys, make_keys, memory_config


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return make_keys(tmp_path)


@pytest.fixture
def app(tmp_path: Path, keys: Keys) -> FastAPI:
    app = create_app(memory_config(tmp_path))
    app.state.keyring.min_interval = 0.0  # see every key change at once
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A PostgreSQL database of its own (API keys are global to a database), dropped after."""
    with fresh_postgres_database("aion_keys") as url:
        yield url
