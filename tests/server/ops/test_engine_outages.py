"""An outage of the streams engine (Redis, NATS) or of PostgreSQL, seen through a live server:
requests answer 503 and ``/readyz`` names the engine while it is down, for as long as it is
down; service resumes by itself when it answers again. A server whose engine is down when it
starts starts anyway. The outage is a cut TCP proxy in front of the real service."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from aion.server.app import create_app
from aion.server.config import AionConfig, Route
from aion.streams.backends.nats import RECONNECT_WAIT_SECONDS
from tests.support.databases import fresh_postgres_database
from tests.support.live import serve
from tests.support.services import NATS_URL, REDIS_URL, require
from tests.support.tcp_proxy import TcpProxy, tcp_proxy

pytestmark = pytest.mark.service

DEADLINE = 90.0  # generous: the machine may be loaded
OLD_NATS_BUDGET_SECONDS = 2 * 2.0 + 2.0
"""What nats-py was once allowed: two reconnection attempts two seconds apart (and some)."""


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _through(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))


@pytest.fixture(params=["redis", "nats"])
def engine(request: pytest.FixtureRequest) -> Iterator[tuple[str, TcpProxy]]:
    """A streams engine behind a proxy: (its URL through the proxy, the proxy)."""
    require(request.param)
    url = REDIS_URL if request.param == "redis" else NATS_URL
    target = urlsplit(url)
    with tcp_proxy(target.hostname or "127.0.0.1", target.port or 0) as proxy:
        prefix = f"?prefix=o{uuid.uuid4().hex[:8]}" + (":" if request.param == "redis" else "")
        yield _through(url, proxy) + prefix, proxy


def _config(tmp_path: Path, streams: str) -> AionConfig:
    return AionConfig(
        backends={"memory": "memory://"},
        routes=(Route("*", "", ("memory",), "memory"),),
        data_dir=tmp_path,
        streams=streams,
    )


def _put(client: httpx.Client, stream: str) -> int:
    record = {"partition_key": "k", "data": {"n": 1}}
    try:
        return client.post(f"/v1/streams/{stream}/record", json=record).status_code
    except httpx.TimeoutException:
        return 0


def _ready(client: httpx.Client) -> httpx.Response:
    return client.get("/readyz")


def _outage_is_reported(client: httpx.Client, stream: str, name: str) -> None:
    """While cut: stream requests answer 503, and /readyz 503 naming ``name``."""
    _until(lambda: _put(client, stream) == 503, "stream requests to answer 503")
    ready = _ready(client)
    assert ready.status_code == 503
    assert name in ready.json()["down"]


def test_a_streams_engine_outage_longer_than_any_budget_recovers(
    tmp_path: Path, engine: tuple[str, TcpProxy]
) -> None:
    url, proxy = engine
    stream = f"s{uuid.uuid4().hex[:8]}"
    with (
        serve(create_app(_config(tmp_path, url))) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        assert client.post("/v1/streams", json={"name": stream, "shards": 2}).status_code == 201
        assert _put(client, stream) == 200
        proxy.cut()
        _outage_is_reported(client, stream, "streams")
        # Longer than nats-py's old reconnection budget: the client keeps trying regardless.
        started = time.monotonic()
        attempts = max(4, int(OLD_NATS_BUDGET_SECONDS / RECONNECT_WAIT_SECONDS))
        _until(
            lambda: proxy.refused >= attempts and _put(client, stream) == 503,
            f"{attempts} refused attempts to reach the engine",
        )
        assert _ready(client).status_code == 503
        assert time.monotonic() - started > 0  # (the wait above is on attempts, not time)
        proxy.restore()
        _until(lambda: _put(client, stream) == 200, "stream requests to succeed again")
        _until(lambda: _ready(client).status_code == 200, "/readyz to answer 200 again")
        described = client.get(f"/v1/streams/{stream}").json()
        assert len(described["shards"]) == 2


def test_a_server_starts_while_its_streams_engine_is_down(
    tmp_path: Path, engine: tuple[str, TcpProxy]
) -> None:
    url, proxy = engine
    stream = f"s{uuid.uuid4().hex[:8]}"
    proxy.cut()
    with (
        serve(create_app(_config(tmp_path, url))) as base,  # starts: no exit, no crash loop
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        assert client.get("/healthz").status_code == 200
        response = client.post("/v1/streams", json={"name": stream, "shards": 1})
        assert response.status_code == 503
        ready = _ready(client)
        assert ready.status_code == 503
        assert ready.json()["down"] == ["streams"]
        proxy.restore()

        def created() -> bool:
            made = client.post("/v1/streams", json={"name": stream, "shards": 1})
            return made.status_code == 201

        _until(created, "the engine to be connected")
        assert _put(client, stream) == 200
        _until(lambda: _ready(client).status_code == 200, "/readyz to answer 200")


def test_a_server_starts_while_postgresql_is_down(tmp_path: Path) -> None:
    require("postgresql")
    with fresh_postgres_database("aion_outage_start") as database:
        target = urlsplit(database)
        with tcp_proxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
            url = _through(database, proxy)
            config = AionConfig(
                backends={"pg": url},
                routes=(Route("*", "", ("pg",), "pg"),),
                data_dir=tmp_path,
                streams="pg",
                keys_store="local",
            )
            stream = f"s{uuid.uuid4().hex[:8]}"
            proxy.cut()
            with (
                serve(create_app(config)) as base,
                httpx.Client(base_url=base, timeout=30) as client,
            ):
                put = client.post("/1.0/events/put", json={"events": {"e": [{"a": 1}]}})
                assert put.status_code == 503
                made = client.post("/v1/streams", json={"name": stream, "shards": 1})
                assert made.status_code == 503
                ready = _ready(client)
                assert ready.status_code == 503
                assert "pg" in ready.json()["down"]
                proxy.restore()

                def created() -> bool:
                    made = client.post("/v1/streams", json={"name": stream, "shards": 1})
                    return made.status_code == 201

                _until(created, "PostgreSQL to be connected")
                assert _put(client, stream) == 200
                _until(lambda: _ready(client).status_code == 200, "/readyz to answer 200")


def test_readyz_covers_the_rollup_backends_and_the_shared_keys_store(tmp_path: Path) -> None:
    require("redis")
    target = urlsplit(REDIS_URL)
    with tcp_proxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        redis = _through(REDIS_URL, proxy)
        run = uuid.uuid4().hex[:8]
        rule = {
            "stream": "orders.",
            "timeseries": "revenue",
            "type": "count",
            "value": "total",
            "intervals": {"minute": {"step": 60}},
            "backend": redis,
            "options": {"prefix": f"aiontest-{run}"},
        }
        config = AionConfig(
            backends={"memory": "memory://"},
            routes=(Route("*", "", ("memory",), "memory"),),
            data_dir=tmp_path,
            keys_store=f"{redis}?prefix=aiontest-{run}-keys:",
            open_access=True,
            extra={"rollups": [rule]},
        )
        with (
            serve(create_app(config)) as base,
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            ready = _ready(client)
            assert ready.status_code == 200, ready.text
            assert ready.json()["backends"] == {"memory": True, "rollups": True, "keys": True}
            proxy.cut()
            _until(lambda: _ready(client).status_code == 503, "/readyz to answer 503")
            assert _ready(client).json()["down"] == ["keys", "rollups"]
            proxy.restore()
            _until(lambda: _ready(client).status_code == 200, "/readyz to answer 200 again")
