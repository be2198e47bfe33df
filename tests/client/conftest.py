from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aion.server.app import create_app
from tests.live import serve
from tests.server.conftest import kronos_test_config


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """A live Aion server with the Kronos test configuration (a backend named memory)."""
    with serve(create_app(kronos_test_config(tmp_path))) as url:
        yield url
