"""``/readyz`` with a backend down, and ``/metrics`` after traffic."""

from __future__ import annotations

import asyncio
import re
import socket
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from aion.server.app import create_app
from aion.server.config import AionConfig, Route
from aion.server.ops.auth import REQUEST_SCOPE
from aion.server.ops.auth_rules import requirement_of
from aion.server.ops.health import Liveness, readiness
from aion.server.ops.metrics import LabelCap, route_label
from aion.server.service import EventService
from aion.server.streams.kinesis_api import OPERATIONS
from aion.storage.backends.memory import MemoryEventStore
from aion.storage.backends.postgres import PostgresEventStore
from aion.storage.backends.sqlite import SQLiteEventStore
from aion.streams.registry import open_stream_log
from tests.support.keys import Keys, bearer, memory_config
from tests.support.services import NATS_URL, REDIS_URL, require


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def test_readyz_names_the_backend_that_is_down(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/aion"
    config = AionConfig(
        backends={"memory": "memory://", "pg": url},
        routes=(Route("*", "", ("memory", "pg"), "memory"),),
        data_dir=tmp_path,
    )
    stores = {"memory": MemoryEventStore(), "pg": PostgresEventStore(url, timeout=0.3)}
    app = create_app(config, EventService(config, stores))
    with TestClient(app) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["down"] == ["pg"]
        assert body["backends"] == {"memory": True, "pg": False}
        assert "pg" in body["message"]
        metrics = client.get("/metrics").text
        assert 'aion_backend_up{backend="pg",server="aion"} 0.0' in metrics
        assert 'aion_backend_up{backend="memory",server="aion"} 1.0' in metrics


def test_readyz_is_200_when_every_backend_answers(tmp_path: Path) -> None:
    with TestClient(create_app(memory_config(tmp_path))) as client:
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ready", "backends": {"memory": True}}


def _cap_pages(store: SQLiteEventStore, limit: int | None) -> None:
    """Cap the SQLite file at ``limit`` pages (None: its size now): writes that need more fail
    with SQLITE_FULL, as on a full disk."""

    def job(conn: sqlite3.Connection) -> None:
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        conn.execute(f"PRAGMA max_page_count = {pages if limit is None else limit}")

    asyncio.run(store.write(job))


def test_readyz_is_503_while_writes_fail(tmp_path: Path) -> None:
    app = create_app(AionConfig.for_data_dir(tmp_path))
    big = {"events": {"s": [{"pad": "x" * 50_000}]}}
    with TestClient(app) as client:
        store = app.state.service.stores["sqlite"]
        assert isinstance(store, SQLiteEventStore)
        assert client.post("/1.0/events/put", json={"events": {"s": [{}]}}).status_code == 200
        _cap_pages(store, None)
        put = client.post("/1.0/events/put", json=big)
        assert put.status_code == 503
        assert put.json()["s"]["sqlite"]["num_inserted"] == 0
        ready = client.get("/readyz")
        assert ready.status_code == 503  # it answers reads, but cannot store a put
        body = ready.json()
        assert body["down"] == ["sqlite"]
        assert body["reasons"] == {"sqlite": "writes failing: disk full"}
        assert "sqlite (writes failing: disk full)" in body["message"]
        assert client.get("/readyz").status_code == 503  # its probe write fails too
        _cap_pages(store, 1_000_000_000)
        assert client.get("/readyz").json() == {"status": "ready", "backends": {"sqlite": True}}
        assert client.post("/1.0/events/put", json=big).status_code == 200


@pytest.mark.service
@pytest.mark.parametrize("engine", ["redis", "nats"])
def test_readyz_checks_a_streams_engine_of_its_own(tmp_path: Path, engine: str) -> None:
    require(engine)
    config = AionConfig(
        backends={"memory": "memory://"},
        routes=(Route("*", "", ("memory",), "memory"),),
        data_dir=tmp_path,
        streams=REDIS_URL if engine == "redis" else NATS_URL,
    )
    with TestClient(create_app(config)) as client:
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["backends"] == {"memory": True, "streams": True}
    down = open_stream_log(f"{engine}://127.0.0.1:{_closed_port()}")
    assert isinstance(down, Liveness)
    assert asyncio.run(readiness({"streams": down})) == {"streams": "not answering"}


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_after_traffic(client: TestClient, keys: Keys) -> None:
    headers = bearer(keys.rw)
    put = {"events": {"clicks": [{"a": 1}, {"a": 2}], "views": [{"b": 1}]}}
    assert client.post("/1.0/events/put", json=put, headers=headers).status_code == 200
    assert client.post("/v1/ingest/default/clicks", json=[{}], headers=headers).status_code == 200
    assert client.post("/1.0/events/put", json=put).status_code == 401
    assert client.get("/no/such/path", headers=headers).status_code == 404
    response = client.get("/metrics", headers=bearer(keys.root))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)

    def value(name: str, **labels: str) -> float:
        return samples[(name, frozenset({"server": "aion", **labels}.items()))]

    assert value("aion_events_ingested_total", namespace="default", stream="clicks") == 3
    assert value("aion_events_ingested_total", namespace="default", stream="views") == 1
    route = {"route": "/1.0/events/put", "method": "POST"}
    assert value("aion_http_requests_total", status="200", **route) == 1
    assert value("aion_http_request_duration_seconds_count", **route) == 1
    assert value("aion_http_requests_total", route="refused", method="POST", status="401") == 1
    assert value("aion_auth_refusals_total", reason="unauthorized") == 1
    assert value("aion_http_errors_total", route="unmatched", kind="client") == 1
    assert value("aion_backend_up", backend="memory") == 1
    assert value("aion_http_requests_in_flight") == 1  # the scrape itself
    assert all(name.startswith("aion_") for name, _ in samples)
    assert not re.search(r'route="/no/such', response.text)


def test_sqlite_queue_depth_is_exported(tmp_path: Path) -> None:
    app = create_app(AionConfig.for_data_dir(tmp_path))
    with TestClient(app) as client:
        client.post("/1.0/events/put", json={"events": {"s": [{}]}})
        text = client.get("/metrics").text
    assert 'aion_storage_write_queue_depth{backend="sqlite",server="aion"} 0.0' in text


def test_every_sample_names_its_server(tmp_path: Path) -> None:
    """The servers of a cluster scraped into one Prometheus stay apart: every sample carries
    ``server``, the config's node_id."""
    app = create_app(AionConfig.for_data_dir(tmp_path, node_id="aion-b"))
    with TestClient(app) as client:
        client.post("/1.0/events/put", json={"events": {"s": [{}]}})
        samples = _samples(client.get("/metrics").text)
    assert samples
    assert {dict(labels).get("server") for _, labels in samples} == {"aion-b"}
    assert (
        samples[
            (
                "aion_events_ingested_total",
                frozenset({"server": "aion-b", "namespace": "default", "stream": "s"}.items()),
            )
        ]
        == 1
    )


def test_label_cap_folds_new_streams_and_namespaces_into_other() -> None:
    cap = LabelCap(max_namespaces=2, max_streams=3)
    assert cap.labels("a", "s1") == ("a", "s1")
    assert cap.labels("a", "s2") == ("a", "s2")
    assert cap.labels("b", "s1") == ("b", "s1")
    assert cap.labels("a", "s3") == ("a", "other")
    assert cap.labels("a", "s1") == ("a", "s1")  # seen before: keeps its name
    assert cap.labels("c", "s1") == ("other", "other")


def test_route_label_of_kinesis_calls_names_the_operation() -> None:
    class Root:
        path = "/"

    def scope(target: bytes) -> dict[str, object]:
        need = requirement_of("POST", "/", {}, {"x-amz-target": target.decode()}, "default")
        return {"route": Root(), "method": "POST", REQUEST_SCOPE: need}

    served = frozenset(OPERATIONS)
    assert route_label(scope(b"Kinesis_20131202.PutRecords"), served) == "/ kinesis:PutRecords"
    assert route_label(scope(b"Kinesis_20131202.Nope" + b"x" * 100), served) == "/ kinesis:unknown"
    assert route_label({"headers": []}) == "unmatched"
