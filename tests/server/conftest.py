from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aion.server.app import create_app
from tests.support.kronos import kronos_test_config


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(kronos_test_config(tmp_path))) as c:
        yield c
