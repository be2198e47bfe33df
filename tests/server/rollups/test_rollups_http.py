"""The /v1/timeseries API and ``aion ts`` against a live server with two rollup rules."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from aion.cli.main import app as cli_app
from aion.server.app import create_app
from aion.server.config import AionConfig
from tests.support.live import serve

T0 = 1_800_000_000
TICKS = 10_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("ts-http")
    raw = {
        "rollups": [
            {
                "stream": "web.",
                "timeseries": "views.{page}",
                "type": "count",
                "intervals": {"minute": {"step": 60}, "hour": {"step": "1h"}},
            },
            {
                "name": "latency",
                "stream": "web.",
                "timeseries": "latency.{page}",
                "type": "histogram",
                "value": "ms",
                "intervals": {"minute": {"step": 60, "resolution": 10}},
                "backend": "memory://",
            },
            {
                "name": "latency-again",
                "stream": "api",
                "timeseries": "latency.{page}",
                "type": "gauge",
                "value": "ms",
                "intervals": {"minute": {"step": 60}},
                "backend": "memory://",
            },
        ]
    }
    app = create_app(AionConfig.from_mapping(raw, data_dir=data))
    with serve(app) as url:
        events = [
            {"@time": (T0 + i) * TICKS, "page": "home" if i % 2 else "about", "ms": i % 3}
            for i in range(120)
        ]
        r = httpx.post(url + "/1.0/events/put", json={"events": {"web.a": events}})
        assert r.status_code == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            listing = httpx.get(url + "/v1/timeseries").json()["rollups"]
            if all(rule["stats"]["events"] == 120 for rule in listing[:2]):
                break
            time.sleep(0.1)
        yield url


def test_list(server: str) -> None:
    rules = httpx.get(server + "/v1/timeseries").json()["rollups"]
    assert [r["rule"] for r in rules] == [
        "default/web.*/views.{page}/count",
        "latency",
        "latency-again",
    ]
    assert rules[0]["names"] == ["views.about", "views.home"]
    assert rules[0]["backend"] == "sqlite"
    assert rules[0]["available"] is True
    assert rules[1]["stats"]["events"] == 120
    assert rules[2]["names"] == []


def test_get_and_series(server: str) -> None:
    r = httpx.get(
        server + "/v1/timeseries/views.home", params={"interval": "hour", "timestamp": str(T0)}
    )
    assert r.json() == {
        "target": "views.home",
        "rule": "default/web.*/views.{page}/count",
        "type": "count",
        "interval": "hour",
        "datapoints": [[60, T0 * 1000]],
    }
    r = httpx.get(
        server + "/v1/timeseries/views.home/series",
        params={"start": str(T0), "end": "2027-01-15T08:02:00Z"},
    )
    assert r.json()["datapoints"] == [
        [30, T0 * 1000],
        [30, (T0 + 60) * 1000],
        [0, (T0 + 120) * 1000],
    ]
    r = httpx.get(
        server + "/v1/timeseries/views.about/series",
        params={"start": str(T0), "steps": 2, "collapse": "true"},
    )
    assert r.json()["datapoints"] == [[60, T0 * 1000]]


def test_fine_histogram_and_transforms(server: str) -> None:
    base = server + "/v1/timeseries/latency.home"
    r = httpx.get(base, params={"rule": "latency", "timestamp": str(T0), "condense": "true"})
    assert r.json()["datapoints"] == [[{"0": 10, "1": 10, "2": 10}, T0 * 1000]]
    r = httpx.get(base, params={"rule": "latency", "timestamp": str(T0)})
    assert len(r.json()["datapoints"]) == 6  # one per 10-second resolution row
    r = httpx.get(
        base + "/series",
        params={"rule": "latency", "start": str(T0), "steps": 1, "transform": "mean,count",
                "condense": "true"},
    )  # fmt: skip
    assert r.json()["datapoints"] == [[{"mean": 1.0, "count": 30}, T0 * 1000]]


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/v1/timeseries/nope", {}, 404, None),
        ("/v1/timeseries/views.x", {"rule": "missing"}, 404, None),
        ("/v1/timeseries/latency.home", {}, 400, "rule"),
        ("/v1/timeseries/views.home", {"interval": "week"}, 400, "interval"),
        ("/v1/timeseries/views.home", {"timestamp": "yesterday-ish"}, 400, "timestamp"),
        ("/v1/timeseries/views.home/series", {"start": "x"}, 400, "start"),
        ("/v1/timeseries/views.home/series", {"steps": "0"}, 400, "steps"),
        ("/v1/timeseries/views.home/series", {"transform": "median"}, 400, "transform"),
        ("/v1/timeseries/views.home/series", {"transform": "mean"}, 400, "transform"),
    ],
)
def test_errors_name_the_parameter(
    server: str, path: str, params: dict[str, str], status: int, field: str | None
) -> None:
    r = httpx.get(server + path, params=params)
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field


def test_backend_down_is_503(tmp_path: Path) -> None:
    raw = {
        "rollups": [
            {
                "stream": "s",
                "timeseries": "t",
                "type": "count",
                "intervals": {"m": {"step": 60}},
                "backend": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            }
        ]
    }
    with serve(create_app(AionConfig.from_mapping(raw, data_dir=tmp_path))) as url:
        r = httpx.get(url + "/v1/timeseries/t")
        assert r.status_code == 503
        listing = httpx.get(url + "/v1/timeseries").json()["rollups"]
        assert listing[0]["available"] is False


def test_openapi_documents_the_routes(server: str) -> None:
    paths = httpx.get(server + "/openapi.json").json()["paths"]
    assert "/v1/timeseries" in paths
    series = paths["/v1/timeseries/{name}/series"]["get"]
    names = {p["name"] for p in series["parameters"]}
    assert {"interval", "start", "end", "steps", "transform", "condense", "collapse"} <= names


def test_cli(server: str) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["ts", "list", "--url", server])
    assert listed.exit_code == 0, listed.output
    assert "views.home" in listed.output and "120 events" in listed.output
    got = runner.invoke(
        cli_app, ["ts", "get", "views.home", "--at", str(T0), "--interval", "hour", "--url", server]
    )
    assert got.exit_code == 0, got.output
    assert got.output == "2027-01-15T08:00:00Z\t60\n"
    series = runner.invoke(
        cli_app,
        ["ts", "series", "views.home", "--start", str(T0), "--steps", "2", "--json",
         "--url", server],
    )  # fmt: skip
    assert series.exit_code == 0, series.output
    assert json.loads(series.output)["datapoints"] == [[30, T0 * 1000], [30, (T0 + 60) * 1000]]
    bad = runner.invoke(cli_app, ["ts", "get", "views.home", "--interval", "x", "--url", server])
    assert bad.exit_code == 2
    assert "interval" in bad.output
    missing = runner.invoke(cli_app, ["ts", "get", "nope", "--url", server])
    assert missing.exit_code == 2 and "404" in missing.output
