"""The dashboard's HTTP surface without a browser: files, JSON endpoints, SSE, OpenAPI.

Events these tests add go to their own namespace, so the browser tests' views (and their
screenshots) show only the seeded data.
"""

from __future__ import annotations

import time

import httpx
import pytest

from aion.core.time import TICKS_PER_SECOND, kronos_time_now
from tests.server.dashboard.conftest import BUCKET_KEY, BUCKET_NAME, Seeded

NS = "checks"


def test_the_page_and_its_files_are_served_with_a_self_only_policy(dashboard: Seeded) -> None:
    client = dashboard.client
    assert client.get("/ui").headers["location"] == "ui/"
    page = client.get("/ui/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    script = client.get("/ui/static/js/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert client.get("/ui/static/app.css").headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "path",
    ["/ui/static/%2e%2e/%2e%2e/api.py", "/ui/static/js/missing.js", "/ui/static/js"],
)
def test_nothing_else_is_served_from_the_package(dashboard: Seeded, path: str) -> None:
    assert dashboard.client.get(path).status_code == 404


def test_streams_endpoint_counts_recent_events(dashboard: Seeded) -> None:
    # Three events a minute over the last four minutes, clear of the minute boundaries.
    now = kronos_time_now()
    events = [{"@time": now - (5 + 20 * k) * TICKS_PER_SECOND} for k in range(12)]
    dashboard.put("rates.check", events, NS)
    body = dashboard.client.get("/ui/api/streams", params={"window": 5, "namespace": NS}).json()
    rates = {s["stream"]: s for s in body["streams"]}
    check = rates["rates.check"]
    assert (check["count"], check["per_minute"], check["estimated"]) == (12, 2.4, False)
    assert check["bins"] == [0, 3, 3, 3, 3]
    assert body["window_minutes"] == 5
    assert body["truncated"] is False


def test_bad_parameters_are_refused_naming_the_field(dashboard: Seeded) -> None:
    client = dashboard.client
    answer = client.get("/ui/api/streams", params={"namespace": "not a name"})
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "namespace"
    answer = client.get("/ui/api/bucket", params={"stream": "a/b"})
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "stream"
    answer = client.get("/ui/api/rollup", params={"stream": "web.hits", "interval": "fortnight"})
    assert answer.json()["error"]["field"] == "interval"
    answer = client.get("/ui/api/tail", params={"stream": "orders", "after": "nope"})
    assert (answer.status_code, answer.json()["error"]["field"]) == (400, "after")


def test_bucket_history_is_downsampled(dashboard: Seeded) -> None:
    params = {"stream": "home-sensors", "key": "temperature", "max_points": 10}
    body = dashboard.client.get("/ui/api/bucket/history", params=params).json()
    assert len(body["points"]) <= 10
    assert body["truncated"] is False
    times = [t for t, _ in body["points"]]
    assert times == sorted(times)
    assert body["start_ms"] <= times[0] <= times[-1] <= body["end_ms"]


def test_rollup_leaves_empty_buckets_empty(dashboard: Seeded) -> None:
    params = {"stream": "web.hits", "field": "ms", "interval": "minute", "transform": "max"}
    body = dashboard.client.get("/ui/api/rollup", params=params).json()
    assert len(body["points"]) == 60
    filled = [v for _, v in body["points"] if v is not None]
    assert len(filled) == dashboard.hit_minutes()
    assert body["scanned"] == 45


@pytest.mark.parametrize("transform", ["count", "sum", "rate", "mean"])
def test_an_empty_bucket_is_null_whatever_the_transform(dashboard: Seeded, transform: str) -> None:
    params = {"stream": "meter", "field": "kwh", "transform": transform}
    body = dashboard.client.get("/ui/api/rollup", params=params).json()
    values = [v for _, v in body["points"]]
    assert len(values) == 60
    held = [v for v in values if v is not None]
    assert len(held) == 3  # the three minutes with readings; the 57 others are null, not 0
    expected = {"count": [2, 1, 2], "sum": [0, 2.5, 2], "mean": [0, 2.5, 1]}
    if transform in expected:
        assert held == expected[transform]


def test_a_text_key_has_its_text_history(dashboard: Seeded) -> None:
    params = {"stream": BUCKET_KEY, "key": "door"}
    body = dashboard.client.get("/ui/api/bucket/history", params=params).json()
    assert body["points"] == []
    assert [text for _, text in body["texts"]] == ["closed", "open"]  # oldest first
    assert body["texts"][0][0] < body["texts"][1][0]
    numbers = dashboard.client.get(
        "/ui/api/bucket/history", params={"stream": BUCKET_KEY, "key": "humidity"}
    ).json()
    assert (len(numbers["points"]), numbers["texts"]) == (30, [])


def test_buckets_carry_the_newest_name_api_buckets_gave_them(dashboard: Seeded) -> None:
    assert dashboard.create_bucket("named.check", "First name") == 201
    assert dashboard.create_bucket("named.check", "First name") == 204
    assert dashboard.create_bucket("named.check", "Garden") == 204  # renamed
    assert dashboard.create_bucket("Named check/2", "Shed") == 201  # not a stream name
    client = dashboard.client
    named = {b["stream"]: b for b in client.get("/ui/api/buckets").json()["buckets"]}
    assert named["named.check"] == {"stream": "named.check", "key": "named.check", "name": "Garden"}
    mapped = [b for b in named.values() if b["key"] == "Named check/2"]
    assert [b["name"] for b in mapped] == ["Shed"]
    assert mapped[0]["stream"].startswith("Named_check_2-")
    assert named[BUCKET_KEY]["name"] == BUCKET_NAME
    bucket = client.get("/ui/api/bucket", params={"stream": BUCKET_KEY}).json()
    assert bucket["name"] == BUCKET_NAME
    assert client.get("/ui/api/bucket", params={"stream": "orders"}).json()["name"] is None
    assert client.get("/ui/api/buckets", params={"namespace": NS}).json()["buckets"] == []


def _messages(response: httpx.Response, until: str) -> list[dict[str, str]]:
    """SSE messages up to and including the first of kind ``until``."""
    found: list[dict[str, str]] = []
    message: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if message:
                found.append(message)
                if message.get("event") == until:
                    return found
            message = {}
            continue
        name, _, value = line.partition(": ")
        message[name] = value
    return found


def test_tail_resumes_after_the_last_event_id(dashboard: Seeded) -> None:
    dashboard.put("tail.resume", [{"n": 1}, {"n": 2}], NS)
    params = {"stream": "tail.resume", "namespace": NS}
    with dashboard.client.stream("GET", "/ui/api/tail", params=params) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        first = _messages(answer, "ready")
    events = [m for m in first if m.get("event") == "event"]
    assert [m["data"].startswith('{"n":') for m in events] == [True, True]
    assert first[0] == {"retry": "1000"}
    dashboard.put("tail.resume", [{"n": 3}], NS)
    headers = {"Last-Event-ID": events[-1]["id"]}
    started = time.monotonic()
    with dashboard.client.stream("GET", "/ui/api/tail", params=params, headers=headers) as answer:
        resumed = _messages(answer, "event")
    assert time.monotonic() - started < 3
    assert '"n":3' in resumed[-1]["data"]
    assert all('"n":1' not in m.get("data", "") for m in resumed)


def test_openapi_describes_the_json_endpoints(dashboard: Seeded) -> None:
    paths = dashboard.client.get("/openapi.json").json()["paths"]
    for path in ("streams", "tail", "bucket", "buckets", "bucket/history", "rollup", "namespaces"):
        assert f"/ui/api/{path}" in paths
    streams = paths["/ui/api/streams"]["get"]
    schema = streams["responses"]["200"]["content"]["application/json"]["schema"]
    assert "per_minute" in schema["properties"]["streams"]["items"]["properties"]
    # The page and its files are routes too (issue 9: the document describes every route).
    assert "text/html" in paths["/ui/"]["get"]["responses"]["200"]["content"]
    assert "308" in paths["/ui"]["get"]["responses"]
    assert "404" in paths["/ui/static/{path}"]["get"]["responses"]
