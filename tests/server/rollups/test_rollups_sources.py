"""Rules see every event whatever the streams engine: with streams on Redis or NATS, events put
through the Kronos, Initial State and Samsara APIs (kept in the event store) are rolled up
as well as records put through the native streams API (kept by the engine)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from aion.server.app import create_app
from aion.server.config import AionConfig
from tests.support.live import serve
from tests.support.services import NATS_URL, REDIS_URL, require

pytestmark = pytest.mark.service

T0 = 1_800_000_000
TICKS = 10_000_000
IS_HEADERS = {"X-IS-AccessKey": "ak", "X-IS-BucketKey": "bucket", "Accept-Version": "<=0.0.4"}
SAMSARA_HEADERS = {"Content-Type": "application/json"}


def _until(check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def _engine_url(engine: str) -> str:
    tag = uuid.uuid4().hex[:8]
    require(engine)
    if engine == "redis":
        return f"{REDIS_URL}?prefix=aiontest-{tag}:"
    return f"{NATS_URL}?prefix=T{tag}"


@pytest.mark.parametrize("engine", ["redis", "nats"])
def test_events_of_every_api_are_rolled_up(engine: str, tmp_path: Path) -> None:
    raw = {
        "streams": _engine_url(engine),
        "rollups": [
            {
                "name": "per-stream",
                "stream": "",
                "prefix": True,
                "timeseries": "n.{@stream}",
                "type": "count",
                "intervals": {"all": {"step": "100y"}},  # one bucket: 1970-2069
            }
        ],
    }
    app = create_app(AionConfig.from_mapping(raw, data_dir=tmp_path))
    with serve(app) as url:
        kronos = [{"@time": (T0 + i) * TICKS, "page": "home"} for i in range(30)]
        httpx.post(f"{url}/1.0/events/put", json={"events": {"web": kronos}}).raise_for_status()
        readings = [{"key": "temp", "value": i, "epoch": T0 + i} for i in range(20)]
        httpx.post(f"{url}/api/events", json=readings, headers=IS_HEADERS).raise_for_status()
        alerts = [
            {"eventName": "alert", "sourceId": f"d{i}", "timestamp": (T0 + i) * 1000}
            for i in range(10)
        ]
        httpx.post(f"{url}/v1/events", json=alerts, headers=SAMSARA_HEADERS).raise_for_status()
        records = [{"partition_key": f"k{i}", "data": {"n": i}} for i in range(15)]
        httpx.post(f"{url}/v1/streams/native/records", json={"records": records}).raise_for_status()

        def totals() -> dict[str, int]:
            out: dict[str, int] = {}
            for name in ("web", "bucket", "samsara", "native"):
                answer = httpx.get(f"{url}/v1/timeseries/n.{name}", params={"interval": "all"})
                if answer.status_code == 200:
                    points = answer.json()["datapoints"]
                    out[name] = sum(int(value or 0) for value, _ in points)
            return out

        expected = {"web": 30, "bucket": 20, "samsara": 10, "native": 15}
        _until(lambda: totals() == expected)
        rules = httpx.get(f"{url}/v1/timeseries").json()["rollups"]
        assert rules[0]["stats"]["events"] == 75
