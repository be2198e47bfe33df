"""The dashboard in a real headless Chromium against a live, seeded server.

Each test opens a view, checks it shows the data that was put through the real APIs, and
keeps a screenshot in ``test-artifacts/ui/`` (``docs/screenshots/`` holds copies).
"""

from __future__ import annotations

import re
from typing import Any

from tests.server.dashboard.conftest import ARTIFACTS, Seeded


def _open(page: Any, dashboard: Seeded, fragment: str) -> None:
    page.goto(f"{dashboard.base}/ui/#{fragment}")


def _shoot(page: Any, name: str) -> None:
    """The page down to the end of its content (not the empty viewport below)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("body").screenshot(path=str(ARTIFACTS / f"{name}.png"), animations="disabled")


def _assert_clean(page: Any, dashboard: Seeded) -> None:
    """No script errors, and no request left the server (everything is served locally)."""
    assert page.errors == []
    foreign = [u for u in page.requests if not u.startswith(dashboard.base)]
    assert foreign == []


def test_streams_view_lists_streams_with_their_rates(page: Any, dashboard: Seeded) -> None:
    _open(page, dashboard, "streams")
    row = page.locator('tr[data-stream="web.hits"]')
    # 45 hits in the last 9 minutes over a 15-minute window: 3 a minute.
    assert row.locator("td.rate").inner_text() == "3.00"
    assert row.locator("td.count").inner_text() == "45"
    bars = row.locator("svg.spark-bars rect.spark-bar")
    assert bars.count() >= 9
    errors = page.locator('tr[data-stream="web.errors"]')
    assert errors.locator("td.count").inner_text() == "1"
    # The bucket's last 15 minutes: two readings a minute, plus the door and heating changes.
    assert page.locator('tr[data-stream="home-sensors"] td.count').inner_text() == "33"
    assert page.locator("nav a[aria-current=page]").inner_text() == "Streams"
    _shoot(page, "streams")
    _assert_clean(page, dashboard)


def test_live_tail_receives_an_event_put_after_the_page_opened(
    page: Any, dashboard: Seeded
) -> None:
    _open(page, dashboard, "tail?stream=orders")
    status = page.locator("#tail-status")
    status.filter(has_text="waiting for new events").wait_for()
    assert page.locator("#tail-list li").count() == 1  # the backlog: the one earlier order
    dashboard.put("orders", [{"order": 2, "total": 42.25, "customer": "ada"}])
    newest = page.locator("#tail-list li").first
    newest.filter(has_text='"customer":"ada"').wait_for(timeout=5000)
    assert '"total":42.25' in newest.inner_text()
    assert page.locator("#tail-list li").count() == 2
    status.filter(has_text="1 new event").wait_for()
    _shoot(page, "tail")
    _assert_clean(page, dashboard)


def test_bucket_view_shows_the_latest_value_per_key(page: Any, dashboard: Seeded) -> None:
    _open(page, dashboard, "bucket?stream=home-sensors")
    tiles = page.locator("#bucket-tiles .tile")
    tiles.first.wait_for()
    keys = [tiles.nth(i).get_attribute("data-key") for i in range(tiles.count())]
    assert keys == ["door", "heating", "humidity", "temperature"]

    def latest(key: str) -> str:
        text: str = page.locator(f'.tile[data-key="{key}"] .value').inner_text()
        return text

    assert latest("door") == "open"
    assert latest("heating") == "true"
    assert latest("temperature") == "22.2"  # 19.0 + 29 * 0.1 + (29 % 4) * 0.3
    assert latest("humidity") == "54"  # 55 - 29 % 7
    assert page.locator('.tile[data-key="temperature"] svg path.spark-line').count() == 1
    assert page.locator('.tile[data-key="door"] svg').count() == 0  # text: no sparkline

    page.locator('.tile[data-key="temperature"]').click()
    page.locator('.tile[data-key="temperature"][aria-pressed="true"]').wait_for()
    chart = page.locator("#history-chart svg")
    chart.locator("path.series-line").wait_for()
    assert chart.locator("circle.series-dot").count() == 30
    assert page.locator("#history-title").inner_text() == "History of temperature"
    assert "key=temperature" in page.url
    _shoot(page, "bucket")
    _assert_clean(page, dashboard)


def test_timeseries_view_charts_a_stored_rollup(page: Any, dashboard: Seeded) -> None:
    _open(page, dashboard, "timeseries?src=stored&name=latency&interval=minute&transform=max")
    chart = page.locator("#ts-chart svg")
    chart.locator("path.series-line").wait_for()
    minutes = dashboard.hit_minutes()
    page.locator("#ts-note").filter(has_text=f"{minutes} of 60 buckets hold data").wait_for()
    d = chart.locator("path.series-line").get_attribute("d") or ""
    assert d.startswith("M")
    assert chart.locator("circle.series-dot").count() == minutes
    assert page.locator("#ts-transform").input_value() == "max"
    _shoot(page, "timeseries")
    _assert_clean(page, dashboard)


def test_timeseries_view_rolls_up_a_bucket_key(page: Any, dashboard: Seeded) -> None:
    _open(page, dashboard, "timeseries?src=stream&stream=home-sensors&key=humidity")
    page.locator("#ts-note").filter(has_text="humidity").wait_for()
    assert page.locator("#ts-key").input_value() == "humidity"
    page.locator("#ts-transform").select_option("count")
    page.wait_for_url(re.compile(r"transform=count"))
    page.locator("#ts-note").filter(has_text="count of value (humidity)").wait_for()
    dots = page.locator("#ts-chart svg circle.series-dot")
    # One reading a minute for 30 minutes, over a 60-minute chart: every bucket has a count.
    assert dots.count() == 60
    titles = [dots.nth(i).locator("title").text_content() or "" for i in range(dots.count())]
    assert sum(t.endswith(": 1") for t in titles) >= 29
    _assert_clean(page, dashboard)
