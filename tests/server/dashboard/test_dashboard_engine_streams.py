"""The streams list covers a streams engine of its own (Redis), counted from the engine, so
two servers sharing it show the same numbers."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aion.server.app import create_app
from aion.server.config import AionConfig
from tests.support.services import REDIS_URL, require


def _app(data: Path, prefix: str) -> Any:
    config = AionConfig.for_data_dir(data, streams=f"{REDIS_URL}?prefix={prefix}")
    return create_app(config)


def _listed(client: TestClient) -> dict[str, dict[str, Any]]:
    answer = client.get("/ui/api/streams", params={"window": 5})
    assert answer.status_code == 200, answer.text
    return {s["stream"]: s for s in answer.json()["streams"]}


@pytest.mark.timeout(60)
def test_redis_streams_are_listed_with_the_same_rate_on_every_server(tmp_path: Path) -> None:
    require("redis")
    prefix = f"aion-test-ui-{uuid.uuid4().hex[:8]}:"
    records = [{"partition_key": f"k{i}", "data": {"n": i}} for i in range(7)]
    with (
        TestClient(_app(tmp_path / "a", prefix)) as a,
        TestClient(_app(tmp_path / "b", prefix)) as b,
    ):
        created = a.post("/v1/streams", json={"name": "orders", "shards": 3})
        assert created.status_code in (200, 201), created.text
        put = a.post("/v1/streams/orders/records", json={"records": records})
        assert put.status_code == 200, put.text
        assert b.post("/1.0/events/put", json={"events": {"clicks": [{}]}}).status_code == 200
        try:
            seen_a, seen_b = _listed(a), _listed(b)
        finally:
            a.delete("/v1/streams/orders")
    orders = seen_a["orders"]
    assert (orders["kind"], orders["count"], orders["estimated"]) == ("records", 7, False)
    assert sum(orders["bins"]) == 7
    # The other server counts the same records from the engine; its own events are its own.
    assert seen_b["orders"] == orders
    assert seen_b["clicks"]["kind"] == "events" and "clicks" not in seen_a


def test_sql_streams_are_listed_once(tmp_path: Path) -> None:
    """Over SQL the sharded streams are the event store's: no second entry."""
    with TestClient(create_app(AionConfig.for_data_dir(tmp_path))) as client:
        put = client.post(
            "/v1/streams/orders/records", json={"records": [{"partition_key": "k", "data": 1}]}
        )
        assert put.status_code == 200, put.text
        answer = client.get("/ui/api/streams").json()["streams"]
    assert [(s["stream"], s["kind"], s["count"]) for s in answer] == [("orders", "events", 1)]
