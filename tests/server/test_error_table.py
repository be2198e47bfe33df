"""The error table (``aion.server.errors``): the same error gets the same status on every wire
family, each family answering in its own shape.

Pinned twice: the table and the renderers, for every family and every kind of error; then real
requests of each family that meet the errors it can meet (an unknown resource, bad input, a
body over a cap, a backend that is down). The key check's refusals (401, 403, and 400 for a
repeated header) are pinned for every family in ``tests/server/ops/test_auth_http.py``.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from aion.errors import (
    AionError,
    BackendUnavailable,
    ConfigurationError,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationError,
)
from aion.server.app import create_app
from aion.server.config import AionConfig
from aion.server.errors import error_response, status_of
from aion.server.families import Family
from aion.server.ingest.sink import BodyTooLarge
from aion.server.streams.iterators import ExpiredIterator
from aion.server.streams.kinesis_shapes import TARGET_PREFIX, error_of
from aion.server.streams.native_api import CheckpointConflict
from aion.server.streams.native_shapes import RecordTooLarge
from aion.streams.protocol import StreamNotFound
from aion.timeseries import StoreError
from tests.support.tcp_proxy import TcpProxy, tcp_proxy

ERRORS: list[tuple[AionError, int]] = [
    (NotFound("no such thing"), 404),
    (StreamNotFound("no stream 's'"), 404),
    (ValidationError("bad input", "field"), 400),
    (BackendUnavailable("postgresql", "down"), 503),
    (StoreError("the backend refused it"), 503),
    (Forbidden("not with this key"), 403),
    (Unauthorized("no key"), 401),
    (BodyTooLarge("the body is over 10 bytes", "body"), 413),
    (RecordTooLarge("the record is over 1 MiB", "data"), 413),
    (CheckpointConflict("the checkpoint moved", "expected"), 409),
    (ConfigurationError("a setting is wrong"), 400),
]


def _kronos(body: Any) -> bool:
    return body["@success"] is False and all(isinstance(e, str) for e in body["@errors"])


def _native(body: Any) -> bool:
    return set(body["error"]) == {"type", "message", "field"}


def _kinesis(body: Any) -> bool:
    return set(body) == {"__type", "message"}


def _initialstate(body: Any) -> bool:
    return isinstance(body["message"]["error"]["type"], str)


def _samsara(body: Any) -> bool:
    return body["status"] == "ERROR" and isinstance(body["message"], str)


SHAPES: dict[Family, Callable[[Any], bool]] = {
    Family.KRONOS: _kronos,
    Family.INGEST: _kronos,
    Family.INITIALSTATE: _initialstate,
    Family.SAMSARA: _samsara,
    Family.KINESIS: _kinesis,
    Family.STREAMS: _native,
    Family.TIMESERIES: _native,
    Family.DASHBOARD: _native,
    Family.OPERATIONS: _native,
    Family.OTHER: _native,
}


@pytest.mark.parametrize("family", list(Family))
@pytest.mark.parametrize(("error", "status"), ERRORS, ids=lambda v: type(v).__name__)
def test_an_error_has_the_same_status_in_every_family(
    family: Family, error: AionError, status: int
) -> None:
    assert status_of(error) == status
    response = error_response(family, error)
    assert response.status_code == status
    body = json.loads(bytes(response.body))
    assert SHAPES[family](body), body
    assert str(error) in json.dumps(body, ensure_ascii=False)


def test_the_native_shape_names_the_class_and_the_field() -> None:
    body = json.loads(bytes(error_response(Family.STREAMS, RecordTooLarge("big", "data")).body))
    assert body == {"error": {"type": "RecordTooLarge", "message": "big", "field": "data"}}


def test_kinesis_keeps_its_codes_and_takes_the_status_from_the_table() -> None:
    missing = error_of(StreamNotFound("no stream"), "s")
    assert (missing.code, missing.status) == ("ResourceNotFoundException", 404)
    assert missing.message == "Stream s under account 000000000000 not found."
    down = error_of(BackendUnavailable("postgresql", "down"), "s")
    assert (down.code, down.status) == ("InternalFailureException", 503)
    expired = error_of(ExpiredIterator("the iterator expired", 0, 300_001), "s")
    assert (expired.code, expired.status) == ("ExpiredIteratorException", 400)
    bad = error_of(ValidationError("no"), "s")
    assert (bad.code, bad.status) == ("InvalidArgumentException", 400)


# --- Real requests -----------------------------------------------------------------------------

Send = Callable[[TestClient], httpx.Response]
IS_HEADERS = {"X-IS-AccessKey": "any", "X-IS-BucketKey": "bucket"}


def _kinesis_call(operation: str, body: dict[str, Any]) -> Send:
    def send(client: TestClient) -> httpx.Response:
        headers = {"X-Amz-Target": TARGET_PREFIX + operation}
        return client.post("/", headers=headers, content=json.dumps(body))

    return send


def _through(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))


@pytest.fixture(scope="module")
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    target = urlsplit(postgres_url)
    with tcp_proxy(target.hostname or "127.0.0.1", target.port or 5432) as p:
        yield p


@pytest.fixture(scope="module")
def client(
    postgres_url: str, proxy: TcpProxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """One app over PostgreSQL (events and streams) reached through a proxy the tests can cut,
    with a timeseries rule on a working backend and one on a backend that is down."""
    raw = {
        "backends": {"pg": _through(postgres_url, proxy)},
        "default_namespace": f"errors_{uuid.uuid4().hex[:8]}",
        "max_body_bytes": 4 * 1024 * 1024,
        "open": True,  # a server on PostgreSQL keeps its keys there; this one is open on purpose
        "rollups": [
            {"name": "up", "stream": "web", "timeseries": "views", "type": "count",
             "intervals": {"m": {"step": 60}}, "backend": "memory://"},
            {"name": "down", "stream": "web", "timeseries": "gone", "type": "count",
             "intervals": {"m": {"step": 60}}, "backend": "redis://127.0.0.1:1/0"},
        ],
    }  # fmt: skip
    config = AionConfig.from_mapping(raw, data_dir=tmp_path_factory.mktemp("error-table"))
    with TestClient(create_app(config)) as c:
        yield c


NOT_FOUND: dict[str, Send] = {
    "streams": lambda c: c.get("/v1/streams/missing"),
    "kinesis": _kinesis_call("DescribeStream", {"StreamName": "missing"}),
    "timeseries": lambda c: c.get("/v1/timeseries/nothing.makes.this"),
}
BAD_INPUT: dict[str, Send] = {
    "kronos": lambda c: c.post("/1.0/events/get", json={"stream": "s"}),
    "ingest": lambda c: c.post("/v1/ingest/s", content=b"{"),
    "initialstate": lambda c: c.post("/api/events", json=[{"key": "k"}], headers=IS_HEADERS),
    "samsara": lambda c: c.post(
        "/v1/events", content=b"[]", headers={"Content-Type": "text/plain"}
    ),
    "streams": lambda c: c.post("/v1/streams", json={"shards": 1}),
    "kinesis": _kinesis_call("DescribeStream", {}),
    "timeseries": lambda c: c.get("/v1/timeseries/views", params={"interval": "fortnight"}),
    "dashboard": lambda c: c.get("/ui/api/tail", params={"stream": "s", "after": "not-an-id"}),
}
_BIG = b"x" * (1024 * 1024 + 10)
TOO_LARGE: dict[str, Send] = {
    # The body cap of the app answers before any route, in the Kronos envelope everywhere.
    "kronos": lambda c: c.post("/1.0/events/put", content=b" " * (4 * 1024 * 1024 + 1)),
    "ingest": lambda c: c.post(
        "/v1/ingest/s",
        content=gzip.compress(b"[" + b" " * (4 * 1024 * 1024) + b"]"),
        headers={"Content-Encoding": "gzip"},
    ),
    "initialstate": lambda c: c.post("/api/events", content=_BIG, headers=IS_HEADERS),
    "streams": lambda c: c.post(
        "/v1/streams/s/record", json={"partition_key": "k", "data": _BIG.decode()}
    ),
}
DOWN: dict[str, Send] = {
    "kronos": lambda c: c.post("/1.0/events/get", json={"stream": "s", "end_time": 10}),
    "ingest": lambda c: c.post("/v1/ingest/s", json=[{"a": 1}]),
    "initialstate": lambda c: c.post(
        "/api/events", json=[{"key": "k", "value": 1}], headers=IS_HEADERS
    ),
    "samsara": lambda c: c.post(
        "/v1/events", json=[{"timestamp": 1, "sourceId": "s", "eventName": "e"}]
    ),
    "streams": lambda c: c.get("/v1/streams"),
    "kinesis": _kinesis_call("ListStreams", {}),
    "timeseries": lambda c: c.get("/v1/timeseries/gone"),
    "dashboard": lambda c: c.get("/ui/api/streams"),
}
FAMILY_SHAPES = {
    "kronos": _kronos,
    "ingest": _kronos,
    "initialstate": _initialstate,
    "samsara": _samsara,
    "streams": _native,
    "kinesis": _kinesis,
    "timeseries": _native,
    "dashboard": _native,
}


def _answered(response: httpx.Response, status: int, family: str) -> None:
    assert response.status_code == status, (family, response.text)
    assert FAMILY_SHAPES[family](response.json()), (family, response.text)


@pytest.mark.parametrize("family", list(NOT_FOUND))
def test_an_unknown_resource_is_404(client: TestClient, family: str) -> None:
    _answered(NOT_FOUND[family](client), 404, family)


def test_kronos_reads_of_an_unknown_stream_stay_empty_200s(client: TestClient) -> None:
    """Kronos had no 404 for a stream: a get is empty and the schema has no properties."""
    got = client.post("/1.0/events/get", json={"stream": "never.written", "end_time": 2**60})
    assert (got.status_code, got.content) == (200, b"")
    schema = client.post("/1.0/streams/infer_schema", json={"stream": "never.written"})
    assert schema.status_code == 200
    assert schema.json()["@success"] is True


@pytest.mark.parametrize("family", list(BAD_INPUT))
def test_bad_input_is_400(client: TestClient, family: str) -> None:
    _answered(BAD_INPUT[family](client), 400, family)


@pytest.mark.parametrize("family", list(TOO_LARGE))
def test_a_body_or_record_over_its_cap_is_413(client: TestClient, family: str) -> None:
    _answered(TOO_LARGE[family](client), 413, family)


def test_an_error_that_escapes_a_route_is_answered_in_its_family_shape(tmp_path: Path) -> None:
    app = create_app(AionConfig.for_data_dir(tmp_path))
    with TestClient(app) as c:
        app.state.sink = None  # the ingestion routers' dependency raises ConfigurationError
        initialstate = c.post("/api/events", json=[{"key": "k", "value": 1}], headers=IS_HEADERS)
        assert initialstate.status_code == 400
        assert initialstate.json()["message"]["error"]["message"].startswith("no event sink")
        samsara = c.post("/v1/events", json=[{"timestamp": 1, "sourceId": "s", "eventName": "e"}])
        assert samsara.status_code == 400
        assert samsara.json() == {
            "status": "ERROR",
            "message": "no event sink: set app.state.sink before serving",
        }
        assert c.get("/no/such/path").text == "Four, oh, four :'("


def test_a_backend_that_is_down_is_503_in_every_family(client: TestClient, proxy: TcpProxy) -> None:
    proxy.cut()
    try:
        for family, send in DOWN.items():
            response = send(client)
            _answered(response, 503, family)
        assert DOWN["kinesis"](client).json()["__type"] == "InternalFailureException"
        unavailable = DOWN["initialstate"](client).json()["message"]["error"]["type"]
        assert unavailable == "UNAVAILABLE"
    finally:
        proxy.restore()
