from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aion.server.app import create_app
from aion.server.config import AionConfig, Route


def kronos_test_config(tmp_path: Path, **overrides: object) -> AionConfig:
    """The configuration the Kronos tests used: a backend named ``memory``, namespaces
    kronos, namespace1, namespace2 and computed."""
    return AionConfig(
        backends={"memory": "memory://"},
        routes=(Route("*", "", ("memory",), "memory"),),
        data_dir=tmp_path,
        default_namespace="kronos",
        namespaces=("kronos", "namespace1", "namespace2", "computed"),
        flush_size=512,
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(kronos_test_config(tmp_path))) as c:
        yield c
