"""Where the tests find the real local services, and what to do when one is down.

In CI (``CI=true``) a test that needs a service fails when the service is down; elsewhere it
is skipped with the reason. ``make test`` starts the services first.
"""

from __future__ import annotations

import os
import socket

import pytest

POSTGRES_URL = os.environ.get("AION_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("AION_TEST_REDIS", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("AION_TEST_NATS", "nats://127.0.0.1:4222")
MARIADB_URL = os.environ.get("AION_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")

_PORTS = {"postgresql": 5432, "redis": 6379, "nats": 4222, "mariadb": 3306}


def reachable(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(service: str) -> None:
    """Fail in CI, skip elsewhere, when ``service`` is not answering."""
    if reachable(_PORTS[service]):
        return
    message = f"{service} is not answering on 127.0.0.1:{_PORTS[service]} (make services)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
