"""The docs' Redis histogram rollup reads back as numbers, with transforms, over HTTP and the
CLI (issue 11, item 1c): Redis stores text, and a rule has no ``read_func`` of its own."""

from __future__ import annotations

import re
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from aion.cli.main import app as cli_app
from aion.server.app import create_app
from aion.server.config import AionConfig
from tests.support.live import serve
from tests.support.paths import ROOT
from tests.support.services import REDIS_URL, require

pytestmark = pytest.mark.service

T0 = 1_800_000_000
TICKS = 10_000_000
EVENTS = 60


def _docs_rules() -> list[dict[str, Any]]:
    """The reference ``[[rollups]]`` block of docs/timeseries.md (the one with the Redis
    histogram), as written."""
    text = (ROOT / "docs" / "timeseries.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    (block,) = [b for b in blocks if 'name = "latency"' in b and "redis://" in b]
    rules: list[dict[str, Any]] = tomllib.loads(block)["rollups"]
    return rules


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    require("redis")
    rules = _docs_rules()
    latency = next(rule for rule in rules if rule.get("name") == "latency")
    assert latency["type"] == "histogram" and latency["backend"].startswith("redis://")
    prefix = f"aiontest-{uuid.uuid4().hex[:8]}"
    # The docs' rule, on this test's own Redis prefix, reading events already put.
    latency.update(backend=REDIS_URL, options={"prefix": prefix}, start="earliest")
    rules.append(
        {
            "name": "sizes",
            "stream": "api",
            "timeseries": "sizes.{route}",
            "type": "series",
            "value": "bytes",
            "intervals": {"minute": {"step": 60}},
            "backend": REDIS_URL,
            "options": {"prefix": prefix + "-s"},
        }
    )
    data: Path = tmp_path_factory.mktemp("ts-numbers")
    app = create_app(AionConfig.from_mapping({"rollups": rules}, data_dir=data))
    with serve(app) as url:
        events = [
            {"@time": (T0 + i) * TICKS, "route": "home", "duration": i % 3, "bytes": 100 + i}
            for i in range(EVENTS)
        ]
        r = httpx.post(url + "/1.0/events/put", json={"events": {"api": events}})
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stats = {
                r["rule"]: r["stats"] for r in httpx.get(url + "/v1/timeseries").json()["rollups"]
            }
            if stats["latency"]["events"] == EVENTS and stats["sizes"]["events"] == EVENTS:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the rollups did not catch up: {stats}")
        yield url, prefix
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_histogram_on_redis_takes_transforms_over_http(server: tuple[str, str]) -> None:
    url, _ = server
    base = url + "/v1/timeseries/latency.home.api"
    bucket = {"rule": "latency", "timestamp": str(T0), "condense": "true"}
    r = httpx.get(base, params=bucket)
    assert r.status_code == 200, r.text
    assert r.json()["datapoints"] == [[{"0": 20, "1": 20, "2": 20}, T0 * 1000]]
    r = httpx.get(base, params={**bucket, "transform": "mean,min,max,sum,count"})
    assert r.status_code == 200, r.text
    assert r.json()["datapoints"] == [
        [{"mean": 1.0, "min": 0, "max": 2, "sum": 60, "count": 60}, T0 * 1000]
    ]
    series = {"rule": "latency", "start": str(T0), "steps": 1, "condense": "true"}
    r = httpx.get(base + "/series", params={**series, "transform": "rate"})
    assert r.json()["datapoints"] == [[{"0": 1 / 3, "1": 1 / 3, "2": 1 / 3}, T0 * 1000]]
    # one resolution row of 10 s without condense: durations 0, 1, 2, 0, 1, 2, ...
    r = httpx.get(base, params={"rule": "latency", "timestamp": str(T0), "transform": "max"})
    assert [point[0] for point in r.json()["datapoints"]] == [2] * 6


def test_series_on_redis_reads_numbers(server: tuple[str, str]) -> None:
    url, _ = server
    r = httpx.get(url + "/v1/timeseries/sizes.home", params={"timestamp": str(T0)})
    assert r.json()["datapoints"] == [[list(range(100, 100 + EVENTS)), T0 * 1000]]
    r = httpx.get(
        url + "/v1/timeseries/sizes.home", params={"timestamp": str(T0), "transform": "max,mean"}
    )
    assert r.json()["datapoints"] == [[{"max": 159, "mean": 129.5}, T0 * 1000]]


def test_cli_reads_the_histogram_with_transforms(server: tuple[str, str]) -> None:
    url, _ = server
    runner = CliRunner()
    args = ["ts", "get", "latency.home.api", "--rule", "latency", "--at", str(T0), "--condense"]
    got = runner.invoke(cli_app, [*args, "--transform", "mean", "--url", url])
    assert got.exit_code == 0, got.output
    assert got.output == "2027-01-15T08:00:00Z\t1.0\n"
    raw = runner.invoke(cli_app, [*args, "--url", url])
    assert raw.output == '2027-01-15T08:00:00Z\t{"0": 20, "1": 20, "2": 20}\n'
