"""Bad input on the event APIs: a 4xx that names the field, and nothing stored.

Nesting depth on every route that decodes a body, integers past 64 bits, absurd Kronos
``get`` numbers, a huge ``Accept-Version``, a huge Samsara ``sourceId``, the bounded memory of
Initial State buckets, and the rollup and stream reads of records stored before (or around)
these checks.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aion.core.jsonbody import MAX_JSON_DEPTH
from aion.server.app import create_app
from aion.server.config import AionConfig, Route
from aion.server.ingest.initialstate_api import MAX_ACCEPT_VERSION_LENGTH, initialstate_router
from aion.server.rollups.batches import build_batch
from aion.server.rollups.rules import parse_rollups
from aion.streams.protocol import MAX_PARTITION_KEY_LENGTH, StoredRecord
from tests.support.sinks import ListSink

IS = {"X-IS-AccessKey": "ak", "X-IS-BucketKey": "bk", "Accept-Version": "<=0.0.4"}
SAMSARA = {"Content-Type": "application/json", "X-Samsara-publishedTimestamp": "1"}
KINESIS = {
    "X-Amz-Target": "Kinesis_20131202.DescribeStreamSummary",
    "Content-Type": "application/x-amz-json-1.1",
}
PAST_THE_DECODER = 3000
"""Deeper than msgspec decodes at all: these bodies used to be answered with 500."""
BIG = 2**70


def nested(levels: int) -> str:
    """An object ``levels`` deep: ``{"a": {"a": ... 1}}``."""
    return '{"a":' * levels + "1" + "}" * levels


def fill(template: str, value: str) -> str:
    """``template`` with its ``$`` replaced by ``value`` (JSON text)."""
    return template.replace("$", value)


def lines(response: Any) -> list[Any]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.split("\r\n") if line]


def stored(client: TestClient, stream: str, namespace: str | None = None) -> list[Any]:
    """Every event of ``stream`` (read through Kronos ``get``)."""
    body: dict[str, Any] = {"stream": stream, "end_time": 2**62, "start_time": -(2**62)}
    if namespace is not None:
        body["namespace"] = namespace
    return lines(client.post("/1.0/events/get", json=body))


# -- nesting depth --------------------------------------------------------------------------

# Each route that decodes a body: how to send an event (or value) there, and where the
# refusal shows the offending path.
Send = Callable[[TestClient, str], Any]


def _kronos_put(c: TestClient, event: str) -> Any:
    return c.post("/1.0/events/put", content=fill('{"events": {"s": [{"ok": 1}, $]}}', event))


def _ingest(c: TestClient, event: str) -> Any:
    return c.post("/v1/ingest/s", content=fill('[{"ok": 1}, $]', event))


def _is_events(c: TestClient, event: str) -> Any:
    return c.post("/api/events", content=fill('[{"key": "k", "value": 1}, $]', event), headers=IS)


def _samsara(c: TestClient, event: str) -> Any:
    good = '{"timestamp": 1, "sourceId": "a", "eventName": "e"}'
    return c.post("/v1/events", content=f"[{good}, {event}]", headers=SAMSARA)


EVENT_ROUTES: dict[str, tuple[Send, str, str]] = {
    # name: (send, stream the good event would land in, path named in the refusal)
    "kronos put": (_kronos_put, "s", "body.events.s[1]"),
    "native ingest": (_ingest, "s", "body[1]"),
    "initialstate events": (_is_events, "bk", "body[1]"),
    "samsara events": (_samsara, "samsara", "body[1]"),
}


def _said(response: Any) -> str:
    """The refusal's text, whatever the API's error envelope."""
    return str(response.text)


@pytest.mark.parametrize("route", list(EVENT_ROUTES))
@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, PAST_THE_DECODER])
def test_a_too_deep_event_refuses_the_request_and_stores_nothing(
    client: TestClient, route: str, levels: int
) -> None:
    send, stream, path = EVENT_ROUTES[route]
    r = send(client, nested(levels))
    assert r.status_code == 400, r.text
    assert f"deeper than {MAX_JSON_DEPTH} levels" in _said(r)
    if levels < PAST_THE_DECODER:
        assert path in _said(r)  # which event
    assert stored(client, stream) == []


@pytest.mark.parametrize("route", list(EVENT_ROUTES))
def test_an_event_at_the_limit_is_stored(client: TestClient, route: str) -> None:
    send, stream, _ = EVENT_ROUTES[route]
    inner = nested(MAX_JSON_DEPTH - 1)  # under one field of the event: 64 levels in all
    event = {
        "samsara events": fill(
            '{"timestamp": 2, "sourceId": "b", "eventName": "e", "x": $}', inner
        ),
        # Initial State keeps only key, value and time, but the body is read whole first
        "initialstate events": fill('{"key": "k2", "value": 2, "extra": $}', inner),
    }.get(route, nested(MAX_JSON_DEPTH))
    r = send(client, event)
    assert r.status_code < 300, r.text
    assert len(stored(client, stream)) == 2


def _streams_put(c: TestClient, value: str) -> Any:
    assert c.post("/v1/streams", json={"name": "sx"}).status_code == 201
    body = fill('{"records": [{"partition_key": "a", "data": $}]}', value)
    return c.post("/v1/streams/sx/records", content=body)


OTHER_BODIES: dict[str, tuple[Send, int, str]] = {
    # name: (send, status, field or text the refusal names)
    "kronos get": (
        lambda c, v: c.post(
            "/1.0/events/get", content=fill('{"stream": "s", "end_time": 1, "x": $}', v)
        ),
        400,
        "body",
    ),
    "kronos delete": (
        lambda c, v: c.post(
            "/1.0/events/delete", content=fill('{"stream": "s", "end_time": 1, "x": $}', v)
        ),
        400,
        "body",
    ),
    "kronos streams": (
        lambda c, v: c.post("/1.0/streams", content=fill('{"x": $}', v)),
        400,
        "body",
    ),
    "kronos infer_schema": (
        lambda c, v: c.post(
            "/1.0/streams/infer_schema", content=fill('{"stream": "s", "x": $}', v)
        ),
        400,
        "body",
    ),
    "initialstate buckets": (
        lambda c, v: c.post(
            "/api/buckets", content=fill('{"bucketKey": "b", "x": $}', v), headers=IS
        ),
        400,
        '"field":"body"',
    ),
    "kinesis": (
        lambda c, v: c.post("/", content=fill('{"StreamName": "s", "x": $}', v), headers=KINESIS),
        400,
        "SerializationException",
    ),
    "streams put": (_streams_put, 400, '"field":"body"'),
}


@pytest.mark.parametrize("route", list(OTHER_BODIES))
def test_every_body_is_depth_checked(client: TestClient, route: str) -> None:
    send, status, named = OTHER_BODIES[route]
    r = send(client, nested(PAST_THE_DECODER))
    assert r.status_code == status, r.text
    assert named in _said(r) and f"deeper than {MAX_JSON_DEPTH} levels" in _said(r)


def test_kronos_put_of_a_deep_event_names_it(client: TestClient) -> None:
    r = _kronos_put(client, nested(MAX_JSON_DEPTH + 1))
    assert r.json() == {
        "@errors": [
            f"body.events.s[1] nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"
        ],
        "@success": False,
        "@took": r.json()["@took"],
    }


def test_streams_put_names_the_record(client: TestClient) -> None:
    r = _streams_put(client, nested(MAX_JSON_DEPTH + 1))
    assert r.status_code == 400
    assert r.json()["error"]["field"] == "body"
    assert r.json()["error"]["message"].startswith("body.records[0].data nests")


@pytest.mark.parametrize("path", ["/v1/streams/sd/records", "/v1/streams/sd/record"])
def test_stream_record_data_may_nest_as_deep_as_an_event(client: TestClient, path: str) -> None:
    assert client.post("/v1/streams", json={"name": "sd"}).status_code == 201

    def put(data: str) -> Any:
        record = fill('{"partition_key": "a", "data": $}', data)
        return client.post(
            path, content=record if path.endswith("d") else fill('{"records": [$]}', record)
        )

    assert put(nested(MAX_JSON_DEPTH)).status_code == 200
    refused = put(nested(MAX_JSON_DEPTH + 1))
    assert refused.status_code == 400
    assert f"deeper than {MAX_JSON_DEPTH} levels" in refused.json()["error"]["message"]


def test_infer_schema_survives_events_stored_before_the_limit(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    # Stored as the API used to accept them: 900 levels, past Python's recursion in a walk.
    deep = nested(900).encode()
    outcome = client.portal.call(  # type: ignore[union-attr]
        service.put, "kronos", {"old": msgspec.Raw(b"[" + deep + b', {"a": 2}]')}
    )
    assert not outcome.errors
    r = client.post("/1.0/streams/infer_schema", json={"stream": "old"})
    assert r.status_code == 200, r.text
    schema = r.json()["schema"]
    assert schema["required"] == ["@id", "@time", "a"]
    assert schema["properties"]["a"] == {"type": "any"}  # an object here, an integer there
    again = client.post("/1.0/streams/infer_schema", json={"stream": "old"})
    assert again.status_code == 200


def test_a_stream_record_too_deep_to_decode_is_read_as_base64(client: TestClient) -> None:
    assert client.post("/v1/streams", json={"name": "raw"}).status_code == 201
    data = b"[" * 5000 + b"]" * 5000  # any bytes may be put as data_base64
    put = {"records": [{"partition_key": "a", "data_base64": base64.b64encode(data).decode()}]}
    assert client.post("/v1/streams/raw/records", json=put).status_code == 200
    it = client.post("/v1/streams/raw/shards/0/iterator", json={"type": "TRIM_HORIZON"})
    r = client.post("/v1/streams/raw/read", json={"iterator": it.json()["iterator"]})
    assert r.status_code == 200, r.text
    (record,) = r.json()["records"]
    assert base64.b64decode(record["data_base64"]) == data


def test_rollups_skip_records_they_cannot_decode_or_place() -> None:
    (rule,) = parse_rollups(
        [{"stream": "web.", "timeseries": "hits.{page}", "type": "count",
          "intervals": {"day": {"step": "daily"}}}]
    )  # fmt: skip
    records = [
        StoredRecord(0, 1, "", b"[" * 5000 + b"]" * 5000, 10**7),  # too deep to decode
        StoredRecord(0, 2, "", msgspec.json.encode({"@time": BIG, "page": "a"}), 2 * 10**7),
        StoredRecord(0, 3, "", msgspec.json.encode({"@time": -BIG, "page": "a"}), 3 * 10**7),
        StoredRecord(0, 4, "", msgspec.json.encode({"@time": 4 * 10**7, "page": "a"}), 1),
    ]
    batch = build_batch(rule, "default", "web.x", records)
    # A time no event id can hold is no time at all: the arrival time places the event.
    assert batch.inserts == {2: {"hits.a": [1]}, 3: {"hits.a": [1]}, 4: {"hits.a": [1]}}
    assert (batch.used, batch.skipped) == (3, 1)


def test_rollups_skip_values_no_timeseries_can_store() -> None:
    """JSON's 1e400 decodes to infinity; the rule skips that event and goes on."""
    for kind, value in (("count", "n"), ("gauge", "n"), ("histogram", "n")):
        (rule,) = parse_rollups(
            [{"stream": "web.", "timeseries": "v", "type": kind, "value": value,
              "intervals": {"minute": {"step": 60}}}]
        )  # fmt: skip
        records = [
            StoredRecord(0, 1, "", b'{"@time": 600000000, "n": 1e400}', 1),
            StoredRecord(0, 2, "", b'{"@time": 600000000, "n": -1e400}', 1),
            StoredRecord(0, 3, "", b'{"@time": 600000000, "n": 2.5}', 1),
        ]
        batch = build_batch(rule, "default", "web.x", records)
        assert batch.inserts == {60: {"v": [2.5]}}, kind
        assert (batch.used, batch.skipped) == (1, 2), kind


# -- integers past 64 bits ------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    """The whole app over one SQL backend (SQLite, or PostgreSQL in a fresh database)."""
    url = (
        f"sqlite:///{tmp_path}/events.db"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    config = AionConfig(
        backends={"db": url},
        routes=(Route("*", "", ("db",), "db"),),
        data_dir=tmp_path,
        open_access=True,  # on PostgreSQL the keys are shared there; open on purpose here
    )
    with TestClient(create_app(config)) as c:
        yield c


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"  # the PostgreSQL database is shared


def test_big_integers_in_kronos_puts(sql_client: TestClient) -> None:
    stream = _unique("big")
    events = [{"v": BIG}, {"v": -BIG}, {"@time": BIG}, {"@time": -BIG}]
    r = sql_client.post("/1.0/events/put", json={"events": {stream: events}})
    # Kronos put stores the valid events and names the others, per event.
    assert r.status_code == 200, r.text
    assert r.json()[stream]["db"]["num_inserted"] == 2
    errors = r.json()["@errors"]
    assert [e.split(":")[0] for e in errors] == [f"{stream}[2]", f"{stream}[3]"]
    assert all("@time" in e for e in errors)
    assert sorted(e["v"] for e in stored(sql_client, stream)) == [-BIG, BIG]


def test_big_integers_in_native_ingest(sql_client: TestClient) -> None:
    stream = _unique("big")
    r = sql_client.post(f"/v1/ingest/{stream}", content=json.dumps([{"v": BIG}, {"v": -BIG}]))
    assert r.status_code == 200, r.text
    assert sorted(e["v"] for e in stored(sql_client, stream)) == [-BIG, BIG]
    refused = _unique("big")
    r = sql_client.post(f"/v1/ingest/{refused}", content=json.dumps([{"v": 1}, {"@time": BIG}]))
    assert r.status_code == 400 and "@time" in r.json()["@errors"][0]
    assert stored(sql_client, refused) == []  # all or nothing


def test_big_integers_in_initial_state(sql_client: TestClient) -> None:
    bucket = _unique("bucket")
    headers = {**IS, "X-IS-BucketKey": bucket}
    r = sql_client.post(
        "/api/events", content=json.dumps([{"key": "k", "value": -BIG}]), headers=headers
    )
    assert r.status_code == 204, r.text
    assert [e["value"] for e in stored(sql_client, bucket)] == [-BIG]
    refused = {**IS, "X-IS-BucketKey": _unique("bucket")}
    for epoch in (BIG, -BIG, 1e300):
        body = json.dumps([{"key": "k", "value": 1}, {"key": "k", "value": 2, "epoch": epoch}])
        r = sql_client.post("/api/events", content=body, headers=refused)
        assert r.status_code == 400, r.text
        assert r.json()["message"]["error"]["field"] == "epoch"
        assert "events[1].epoch" in r.json()["message"]["error"]["message"]
    r = sql_client.post(
        "/api/events", content='[{"key": "k", "value": 1, "iso8601": "9999-01-01T00:00:00Z"}]',
        headers=refused,
    )  # fmt: skip
    assert r.status_code == 400 and r.json()["message"]["error"]["field"] == "iso8601"
    assert stored(sql_client, refused["X-IS-BucketKey"]) == []


def test_big_integers_in_samsara(sql_client: TestClient) -> None:
    source = _unique("src")
    ok = {"timestamp": 1, "sourceId": source, "eventName": "e"}
    body = json.dumps([{**ok, "x": BIG}, {**ok, "x": -BIG}])
    r = sql_client.post("/v1/events", content=body, headers=SAMSARA)
    assert r.status_code == 202, r.text
    mine = [e for e in stored(sql_client, "samsara") if e["sourceId"] == source]
    assert sorted(e["x"] for e in mine) == [-BIG, BIG]
    late = _unique("src")
    body = json.dumps([{**ok, "sourceId": late}, {**ok, "sourceId": late, "timestamp": BIG}])
    r = sql_client.post("/v1/events", content=body, headers=SAMSARA)
    assert r.status_code == 400, r.text
    assert r.json()[0] == "OK" and r.json()[1].startswith(f"{{:timestamp (not (<= {BIG} ")
    assert [e for e in stored(sql_client, "samsara") if e["sourceId"] == late] == []


# -- Kronos get's numbers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "extra", "field"),
    [
        ("/1.0/events/get", {"limit": -1}, "limit"),
        ("/1.0/events/get", {"limit": BIG}, "limit"),
        ("/1.0/events/get", {"limit": 2**63}, "limit"),
        ("/1.0/events/get", {"end_time": BIG}, "end_time"),
        ("/1.0/events/get", {"end_time": 2**63}, "end_time"),
        ("/1.0/events/get", {"start_time": -BIG}, "start_time"),
        ("/1.0/events/get", {"start_time": -(2**63) - 1}, "start_time"),
        ("/1.0/events/delete", {"end_time": BIG}, "end_time"),
        ("/1.0/events/delete", {"start_time": -BIG}, "start_time"),
    ],
)
def test_absurd_numbers_are_400_naming_the_field(
    client: TestClient, path: str, extra: dict[str, int], field: str
) -> None:
    client.post("/1.0/events/put", json={"events": {"s": [{"@time": 5}]}})
    body = {"stream": "s", "start_time": 0, "end_time": 10, **extra}
    r = client.post(path, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["@success"] is False
    (error,) = r.json()["@errors"]
    assert f"$.{field}" in error
    assert [e["@time"] for e in stored(client, "s")] == [5]  # a refused delete deleted nothing


def test_a_huge_start_id_is_named_not_echoed(client: TestClient) -> None:
    body = {"stream": "s", "end_time": 10, "start_id": "f" * 1_000_000}
    r = client.post("/1.0/events/get", json=body)
    assert r.status_code == 400
    (error,) = r.json()["@errors"]
    assert error.startswith("start_id 'ffff") and len(r.content) < 300


def test_the_edges_of_the_ranges_still_work(client: TestClient) -> None:
    client.post("/1.0/events/put", json={"events": {"s": [{"@time": 5}]}})
    get = "/1.0/events/get"
    assert lines(client.post(get, json={"stream": "s", "end_time": 10, "limit": 0})) == []
    widest = {"stream": "s", "start_time": -(2**63), "end_time": 2**63 - 1, "limit": 2**63 - 1}
    assert [e["@time"] for e in lines(client.post(get, json=widest))] == [5]


# -- Initial State: Accept-Version and the bucket memory ------------------------------------


@pytest.mark.parametrize("path", ["/api/events", "/api/buckets"])
def test_a_huge_accept_version_is_400(client: TestClient, path: str) -> None:
    for header in ["1" * 5000, "<=0.0.4 " + "|| 0.0.4 " * 2000]:
        r = client.post(path, json=[], headers={**IS, "Accept-Version": header})
        assert r.status_code == 400, r.text
        error = r.json()["message"]["error"]
        assert error["field"] == "Accept-Version"
        assert str(MAX_ACCEPT_VERSION_LENGTH) in error["message"]
    assert stored(client, "bk") == []
    ok = {**IS, "Accept-Version": " " * 200 + "<=0.0.4"}
    assert (
        client.post("/api/events", json=[{"key": "k", "value": 1}], headers=ok).status_code == 204
    )


def test_forgotten_buckets_are_created_again() -> None:
    app = FastAPI()
    app.state.sink = ListSink()
    app.include_router(initialstate_router(bucket_memory=2))
    with TestClient(app) as c:

        def create(key: str) -> int:
            body = {"bucketKey": key, "bucketName": key}
            return int(c.post("/api/buckets", json=body, headers=IS).status_code)

        assert [create(k) for k in "abc"] == [201, 201, 201]
        assert create("c") == 204  # remembered
        assert create("a") == 201  # the least recent, forgotten: created again, as after a restart
        assert create("a") == 204
        ok = c.post(
            "/api/events", json=[{"key": "k", "value": 1}], headers={**IS, "X-IS-BucketKey": "d"}
        )
        assert ok.status_code == 204
        assert create("d") == 204  # sending events to a bucket makes it known
        assert create("b") == 201


# -- Samsara: the partition key -------------------------------------------------------------


def test_a_huge_source_id_is_400_naming_it(client: TestClient) -> None:
    ok = {"timestamp": 1, "sourceId": "s" * MAX_PARTITION_KEY_LENGTH, "eventName": "e"}
    huge = {**ok, "sourceId": "x" * 10_000_000}
    r = client.post("/v1/events", content=json.dumps([ok, huge]), headers=SAMSARA)
    assert r.status_code == 400
    verdicts = r.json()
    assert verdicts[0] == "OK"
    assert verdicts[1].startswith("{:sourceId (not (<= (count ")
    assert verdicts[1].endswith(f") {MAX_PARTITION_KEY_LENGTH}))}}")
    assert len(r.content) < 300  # the value is not echoed back
    assert stored(client, "samsara") == []
    r = client.post("/v1/events", content=json.dumps([ok]), headers=SAMSARA)
    assert r.status_code == 202
    assert [e["sourceId"] for e in stored(client, "samsara")] == [ok["sourceId"]]
