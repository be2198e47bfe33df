"""A real Aion server with data put through its real APIs, and a headless Chromium to look at it.

The browser is the system's Chromium, as :mod:`tests.support.browser` finds it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from aion.core.time import TICKS_PER_SECOND, kronos_time_now
from aion.server.app import create_app
from aion.server.config import AionConfig
from tests.support.browser import launched_chromium
from tests.support.live import serve
from tests.support.paths import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "ui"
BUCKET_KEY = "home-sensors"
BUCKET_NAME = "Home"
ACCESS_KEY = "dashboard-test"
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Seeded:
    """A live server and what was put into it."""

    base: str
    client: httpx.Client
    hit_times: list[int] = field(default_factory=list)

    def hit_minutes(self) -> int:
        """How many minute buckets the seeded ``web.hits`` events fall in (9 or 10, by
        where the minute boundaries fell when they were put)."""
        return len({t // (60 * TICKS_PER_SECOND) for t in self.hit_times})

    def put(self, stream: str, events: list[dict[str, Any]], namespace: str = "default") -> None:
        """Kronos put, checking that every event was stored."""
        body = {"namespace": namespace, "events": {stream: events}}
        answer = self.client.post("/1.0/events/put", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["@success"], answer.text

    def log(self, events: list[dict[str, Any]]) -> None:
        """Initial State events into the test bucket."""
        headers = {"X-IS-AccessKey": ACCESS_KEY, "X-IS-BucketKey": BUCKET_KEY}
        answer = self.client.post("/api/events", headers=headers, json=events)
        assert answer.status_code == 204, answer.text

    def create_bucket(self, key: str, name: str) -> int:
        """Initial State's create-bucket call, as ISStreamer makes it; its status."""
        headers = {"X-IS-AccessKey": ACCESS_KEY}
        body = {"bucketKey": key, "bucketName": name}
        answer = self.client.post("/api/buckets", headers=headers, json=body)
        assert answer.status_code in (201, 204), answer.text
        return answer.status_code


def _seed(seeded: Seeded) -> None:
    """Traffic a person would recognise: page hits over the last minutes, a sensor bucket
    written the way ISStreamer writes one, and a quiet stream to tail."""
    now = kronos_time_now()
    minute = 60 * TICKS_PER_SECOND
    # 45 hits over the last 9 minutes, 5 a minute, with latencies that rise and fall.
    seeded.hit_times.extend(now - (i * minute) // 5 - TICKS_PER_SECOND for i in range(45))
    seeded.put(
        "web.hits",
        [
            {"@time": t, "path": f"/p{i % 3}", "ms": 20 + (i % 5) * 7 + (i // 5) * 3}
            for i, t in enumerate(seeded.hit_times)
        ],
    )
    seeded.put("web.errors", [{"@time": now - 2 * minute, "code": 502}])
    # An Initial State bucket: created with its name, then epoch seconds, as ISStreamer sends.
    seeded.create_bucket(BUCKET_KEY, BUCKET_NAME)
    epoch = now / TICKS_PER_SECOND
    readings = []
    for i in range(30):
        at = epoch - (29 - i) * 60
        readings += [
            {"key": "temperature", "value": round(19.0 + i * 0.1 + (i % 4) * 0.3, 2), "epoch": at},
            {"key": "humidity", "value": 55 - i % 7, "epoch": at},
        ]
    readings += [
        {"key": "door", "value": "closed", "epoch": epoch - 300},
        {"key": "door", "value": "open", "epoch": epoch - 20},
        {"key": "heating", "value": True, "epoch": epoch - 60},
    ]
    seeded.log(readings)
    seeded.put("orders", [{"order": 1, "total": 9.5}])
    # A meter read in three minutes of the last hour: two zero readings (a sum of 0), then
    # 2.5, then 1 and 1; every other minute of the hour is empty (no readings, not zero).
    second = TICKS_PER_SECOND
    seeded.put(
        "meter",
        [
            {"@time": now - 600 * second, "kwh": 0},
            {"@time": now - 600 * second, "kwh": 0},
            {"@time": now - 420 * second, "kwh": 2.5},
            {"@time": now - 240 * second, "kwh": 1},
            {"@time": now - 240 * second, "kwh": 1},
        ],
    )


def _rollup_rules(data_dir: Path) -> list[dict[str, Any]]:
    """A ``[[rollups]]`` rule, so the stored-rollups source has a timeseries to chart."""
    return [
        {
            "stream": "web.hits",
            "timeseries": "latency",
            "type": "series",
            "value": "ms",
            "intervals": {"minute": {"step": 60, "steps": 120}},
            "backend": f"sqlite:///{data_dir / 'rollups.db'}",
        }
    ]


@pytest.fixture(scope="package")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """One seeded server for the UI tests (they only add events, in their own streams). It
    stops when they are done: its SQLite store's threads must not outlive this folder (the
    storage tests count them)."""
    data_dir = tmp_path_factory.mktemp("ui-data")
    config = AionConfig.for_data_dir(data_dir, extra={"rollups": _rollup_rules(data_dir)})
    with serve(create_app(config)) as base, httpx.Client(base_url=base, timeout=10) as client:
        seeded = Seeded(base, client)
        _seed(seeded)
        _wait_for_rollup(client)
        yield seeded


def _wait_for_rollup(client: httpx.Client, seconds: float = 10.0) -> None:
    """The rollup worker follows the stream on its own; wait until it has seen the hits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = client.get("/v1/timeseries")
        if answer.status_code == 404:
            return  # no timeseries API in this build: nothing to wait for
        rules = answer.json().get("rollups", [])
        if rules and rules[0]["stats"].get("events", 0) >= 45:
            return
        time.sleep(0.1)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for a module (see :func:`launched_chromium`)."""
    with launched_chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, dashboard: Seeded, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page at laptop size, recording every request it makes and every script error;
    a screenshot of it is kept in ``test-artifacts/ui/`` when the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
    yield from _recorded(context, request)


@pytest.fixture
def phone(browser: Any, dashboard: Seeded, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page on a 390 x 844 phone screen (a mobile browser, touch), recorded as
    ``page`` is."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    yield from _recorded(context, request)


def _recorded(context: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    tab = context.new_page()
    tab.set_default_timeout(5000)
    tab.requests = []
    tab.errors = []
    tab.on("request", lambda r: tab.requests.append(r.url))
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    yield tab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        tab.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"))
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test item, so fixtures can tell a failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
