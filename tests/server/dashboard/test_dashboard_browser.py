"""The dashboard in a real headless Chromium against a live, seeded server.

Each test opens a view, checks it shows the data that was put through the real APIs, and
keeps a screenshot in ``test-artifacts/ui/``. With ``AION_SCREENSHOTS=docs`` in the
environment the screenshots are written to ``docs/screenshots/`` as well: that is how the
documentation's pictures are made.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

import pytest

from tests.server.dashboard.conftest import ARTIFACTS, BUCKET_KEY, BUCKET_NAME, PHONE, Seeded
from tests.support.paths import ROOT

DOC_SCREENSHOTS = ROOT / "docs" / "screenshots"


def _open(page: Any, dashboard: Seeded, fragment: str) -> None:
    page.goto(f"{dashboard.base}/ui/#{fragment}")


def _go(page: Any, fragment: str) -> None:
    """Another view or pick in the same page, as following a link or a bookmark does."""
    page.evaluate("(fragment) => { location.hash = fragment; }", fragment)


def _shoot(page: Any, name: str) -> None:
    """The page down to the end of its content (not the empty viewport below); copied into
    the docs when ``AION_SCREENSHOTS=docs``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    page.locator("body").screenshot(path=str(target), animations="disabled")
    if os.environ.get("AION_SCREENSHOTS") == "docs":
        shutil.copyfile(target, DOC_SCREENSHOTS / target.name)


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


def _titles(marks: Any) -> list[str]:
    return [marks.nth(i).locator("title").text_content() or "" for i in range(marks.count())]


def test_timeseries_view_rolls_up_a_bucket_key(page: Any, dashboard: Seeded) -> None:
    _open(page, dashboard, "timeseries?src=stream&stream=home-sensors&key=humidity")
    page.locator("#ts-note").filter(has_text="humidity").wait_for()
    assert page.locator("#ts-key").input_value() == "humidity"
    page.locator("#ts-transform").select_option("count")
    page.wait_for_url(re.compile(r"transform=count"))
    note = page.locator("#ts-note").filter(has_text="count of value (humidity)")
    note.wait_for()
    # One reading a minute for the last 30 minutes of a 60-minute chart: 30 buckets hold one
    # reading each, the 30 others hold nothing, and a count of nothing is not drawn as 0.
    dots = page.locator("#ts-chart svg circle.series-dot")
    assert dots.count() == 30
    assert all(t.endswith(": 1") for t in _titles(dots))
    empty = page.locator("#ts-chart svg rect.empty-mark")
    assert empty.count() == 30
    assert all(t.endswith(": no data in this bucket") for t in _titles(empty))
    # Totals and averages are over the buckets that hold data.
    text = note.inner_text()
    assert "30 of 60 buckets hold data · total 30 · 1 per bucket with data" in text
    _assert_clean(page, dashboard)


def test_a_sum_chart_tells_an_empty_bucket_from_a_zero(page: Any, dashboard: Seeded) -> None:
    _open(page, dashboard, "timeseries?src=stream&stream=meter&field=kwh&transform=sum")
    note = page.locator("#ts-note").filter(has_text="sum of kwh")
    note.wait_for()
    dots = page.locator("#ts-chart svg circle.series-dot")
    # Three minutes hold readings: 0 + 0, 2.5, and 1 + 1. The zero is a dot at 0.
    assert sorted(t.rsplit(": ", 1)[1] for t in _titles(dots)) == ["0", "2", "2.5"]
    assert page.locator("#ts-chart svg rect.empty-mark").count() == 57
    assert "3 of 60 buckets hold data · total 4.5 · 1.5 per bucket with data" in note.inner_text()
    # The value axis starts at zero for a sum, so the zero sits on the baseline's tick.
    assert page.locator("#ts-chart svg .axis text").first.text_content() == "0"
    _shoot(page, "empty-buckets")
    _assert_clean(page, dashboard)


def test_a_stored_count_leaves_empty_buckets_empty(page: Any, dashboard: Seeded) -> None:
    _open(page, dashboard, "timeseries?src=stored&name=latency&interval=minute&transform=count")
    minutes = dashboard.hit_minutes()
    note = page.locator("#ts-note").filter(has_text=f"{minutes} of 60 buckets hold data")
    note.wait_for()
    assert "total 45" in note.inner_text()
    assert page.locator("#ts-chart svg circle.series-dot").count() == minutes
    assert page.locator("#ts-chart svg rect.empty-mark").count() == 60 - minutes
    _assert_clean(page, dashboard)


def test_a_text_key_shows_its_history_as_a_log(page: Any, dashboard: Seeded) -> None:
    _open(page, dashboard, f"bucket?stream={BUCKET_KEY}")
    page.locator('.tile[data-key="door"]').click()
    lines = page.locator("#history-log li")
    lines.nth(1).wait_for()
    # Newest first, each with the time it was written: closed 5 minutes ago, open 20 s ago.
    assert [lines.nth(i).locator(".log-value").inner_text() for i in range(2)] == [
        "open",
        "closed",
    ]
    assert all(lines.nth(i).locator("time").get_attribute("datetime") for i in range(2))
    assert page.locator("#history-chart svg").count() == 0  # no empty chart of a text key
    assert page.locator("#history-note").inner_text() == "2 text values"
    _shoot(page, "text-log")
    _assert_clean(page, dashboard)


def test_bucket_names_are_shown_beside_their_keys(page: Any, dashboard: Seeded) -> None:
    _open(page, dashboard, f"bucket?stream={BUCKET_KEY}")
    page.locator("#bucket-name").filter(has_text=BUCKET_NAME).wait_for()
    option = page.locator(f'#bucket-stream option[value="{BUCKET_KEY}"]')
    assert option.inner_text() == f"{BUCKET_KEY} — {BUCKET_NAME}"
    # A stream that no /api/buckets call named keeps its plain name.
    assert page.locator('#bucket-stream option[value="orders"]').inner_text() == "orders"
    _assert_clean(page, dashboard)


# Each view, first showing something, then asked for what the server refuses (a stream or a
# namespace name that is not one, as a bookmark or an edited address can hold).
FAILING_PICKS = {
    "timeseries": (
        "timeseries?src=stored&name=latency&interval=minute&transform=max",
        "#ts-chart svg circle.series-dot",
        "timeseries?src=stream&stream=no%20such&field=value",
        ["#ts-chart svg"],
    ),
    "streams": (
        "streams",
        'tr[data-stream="web.hits"]',
        "streams?ns=not%20a%20name",
        ["#streams-body tr"],
    ),
    "bucket": (
        f"bucket?stream={BUCKET_KEY}&key=temperature",
        "#history-chart svg circle.series-dot",
        "bucket?stream=no%20such",
        ["#bucket-tiles .tile", "#history-chart svg", "#bucket-history:visible"],
    ),
    "tail": (
        "tail?stream=orders",
        "#tail-list li",
        "tail?stream=no%20such",
        ["#tail-list li"],
    ),
}


@pytest.mark.parametrize("view", sorted(FAILING_PICKS))
def test_after_an_error_a_view_clears_what_it_showed(
    page: Any, dashboard: Seeded, view: str
) -> None:
    start, shown, failing, cleared = FAILING_PICKS[view]
    _open(page, dashboard, start)
    page.locator(shown).first.wait_for()
    _go(page, failing)
    error = page.locator("#error")
    error.wait_for()
    assert "may only hold letters, digits" in error.inner_text()
    for selector in cleared:
        assert page.locator(selector).count() == 0, selector
    if view == "timeseries":
        assert page.locator("#ts-note").inner_text() == ""


VIEWS_ON_A_PHONE = [
    ("streams", ["#streams-window", 'tr[data-stream="web.hits"] a >> nth=0']),
    ("tail?stream=orders", ["#tail-stream", "#tail-pause", "#tail-clear", "#tail-list li"]),
    (f"bucket?stream={BUCKET_KEY}&key=temperature", ["#bucket-stream", ".tile", "#history-range"]),
    (
        "timeseries?src=stored&name=latency&interval=minute&transform=max",
        ["#ts-source", "#ts-name", "#ts-interval", "#ts-transform", "#ts-chart svg"],
    ),
]


@pytest.mark.parametrize(("fragment", "controls"), VIEWS_ON_A_PHONE)
def test_the_page_fits_a_phone_screen(
    phone: Any, dashboard: Seeded, fragment: str, controls: list[str]
) -> None:
    _open(phone, dashboard, fragment)
    for selector in controls:
        phone.locator(selector).first.wait_for()
    # The page body never scrolls sideways, and every control is on the screen.
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    header = ["#namespace", *(f'nav a[data-view="{v}"]' for v in ("streams", "tail"))]
    for selector in [*header, 'nav a[data-view="timeseries"]', *controls]:
        box = phone.locator(selector).first.bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], selector
    charts = phone.locator(".chart svg")
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        if box is not None:
            assert box["x"] + box["width"] <= PHONE["width"]
    if fragment.startswith("bucket"):
        _shoot(phone, "phone")
    _assert_clean(phone, dashboard)
