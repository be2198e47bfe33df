"""A PostgreSQL outage under streams kept in PostgreSQL, after the server started: stream
requests answer 503 at once while it is cut (the store's breaker, which the StreamLog shares:
no request waits out the pool's timeout), and the first put after PostgreSQL answers again
succeeds without a long reconnection backoff. The outage is a cut TCP proxy.

The durations are printed (``-s``) for the record, not asserted: the machine may be loaded.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from aion.server.app import create_app
from aion.server.config import AionConfig, Route
from tests.support.databases import fresh_postgres_database
from tests.support.live import serve
from tests.support.tcp_proxy import tcp_proxy

pytestmark = pytest.mark.service

DEADLINE = 90.0


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_stream_requests_fail_at_once_during_a_postgresql_outage_and_resume(
    tmp_path: Path,
) -> None:
    with fresh_postgres_database("aion_pg_stream_outage") as database:
        target = urlsplit(database)
        with tcp_proxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
            netloc = f"{target.username}@127.0.0.1:{proxy.port}" if target.username else None
            url = urlunsplit(target._replace(netloc=netloc or f"127.0.0.1:{proxy.port}"))
            config = AionConfig(
                backends={"pg": url},
                routes=(Route("*", "", ("pg",), "pg"),),
                data_dir=tmp_path,
                streams="pg",
                keys_store="local",
            )
            stream = f"s{uuid.uuid4().hex[:8]}"
            record = {"partition_key": "k", "data": {"n": 1}}
            with (
                serve(create_app(config)) as base,
                httpx.Client(base_url=base, timeout=60) as client,
            ):

                def put() -> int:
                    return client.post(f"/v1/streams/{stream}/record", json=record).status_code

                assert client.post("/v1/streams", json={"name": stream}).status_code == 201
                assert put() == 200
                proxy.cut()
                _until(lambda: put() == 503, "stream requests to answer 503")
                # Once the outage is known, every request answers 503 (none waits for a pool
                # connection first), reads as well as writes.
                durations = []
                for _ in range(5):
                    started = time.monotonic()
                    assert put() == 503
                    read = client.get(f"/v1/streams/{stream}")
                    assert read.status_code == 503
                    durations.append(time.monotonic() - started)
                proxy.restore()
                restored = time.monotonic()
                _until(lambda: put() == 200, "a put to succeed after PostgreSQL returned")
                print(
                    f"\nduring the cut: put + describe answered 503 in "
                    f"{max(durations) * 1000:.0f} ms at most; first put after restore: "
                    f"{time.monotonic() - restored:.2f} s"
                )
                assert client.get(f"/v1/streams/{stream}").status_code == 200
