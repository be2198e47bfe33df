"""Wire attacks against one real server: each gets a 4xx (or its connection closed), leaves the
server answering, and changes nothing that was stored.

The focused tests of each limit live beside their code's tests (``test_wire_limits.py``,
``test_gzip_bodies.py``, ``test_bad_input.py``, ``streams_http/test_bad_input.py``); this suite
throws them all at a single server, the way a hostile client would, and checks what is left.
"""

from __future__ import annotations

import base64
import gzip
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from aion.server.app import create_app
from aion.server.config import AionConfig
from aion.server.ops.connection import WireLimits
from tests.support.live import running

TIMEOUT = 1.0  # the server's request timeout here; waits below allow 30 times as much
KINESIS = "Kinesis_20131202."
CANARY = [{"@time": 10_000_000 * (i + 1), "n": i} for i in range(5)]


@dataclass(frozen=True)
class Target:
    url: str
    port: int


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    rule = {"stream": "canary", "timeseries": "count", "type": "count",
            "intervals": {"minute": {"step": 60}}, "backend": "memory://"}  # fmt: skip
    data = tmp_path_factory.mktemp("attacks")
    app = create_app(AionConfig.from_mapping({"rollups": [rule]}, data_dir=data))
    limits = WireLimits(request_timeout_seconds=TIMEOUT)
    with running(app, limits=limits) as server:
        put = httpx.post(server.url + "/1.0/events/put", json={"events": {"canary": CANARY}})
        assert put.status_code == 200
        made = httpx.post(server.url + "/v1/streams", json={"name": "sharded", "shards": 2})
        assert made.status_code == 201
        yield Target(server.url, server.port)


def _deep(levels: int) -> bytes:
    """JSON nested ``levels`` arrays deep (too deep for Python's own encoder to write)."""
    return b"[" * levels + b"1" + b"]" * levels


def _kinesis(operation: str, body: dict[str, Any]) -> Callable[[str], httpx.Response]:
    def send(url: str) -> httpx.Response:
        headers = {"X-Amz-Target": KINESIS + operation,
                   "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
        return httpx.post(url + "/", content=json.dumps(body), headers=headers)

    return send


def _post(path: str, body: Any, **headers: str) -> Callable[[str], httpx.Response]:
    def send(url: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(url + path, content=content, headers=headers, timeout=60)

    return send


def _get(path: str, **params: str) -> Callable[[str], httpx.Response]:
    return lambda url: httpx.get(url + path, params=params)


_BOMB = gzip.compress(b"[" + b"0," * (40 * 1024 * 1024) + b"0]", 9)
_TWO_MEMBERS_AND_GARBAGE = gzip.compress(b'[{"a": 1}') + b"garbage"
_DEEP = _deep(2000)


def _with_deep(template: str) -> bytes:
    """``template`` as JSON bytes with ``DEEP`` replaced by 2,000 nested arrays."""
    return template.replace("DEEP", _DEEP.decode()).encode()


# fmt: off
ATTACKS: dict[str, Callable[[str], httpx.Response]] = {
    "gzip bomb": _post("/v1/ingest/s", _BOMB, **{"Content-Encoding": "gzip"}),
    "garbage after a gzip member": _post(
        "/v1/ingest/s", _TWO_MEMBERS_AND_GARBAGE, **{"Content-Encoding": "gzip"}
    ),
    "deep JSON, Kronos put": _post(
        "/1.0/events/put", _with_deep('{"events": {"s": [{"a": DEEP}]}}')
    ),
    "deep JSON, native ingest": _post("/v1/ingest/s", _with_deep('[{"a": DEEP}]')),
    "deep JSON, Initial State": _post(
        "/api/events",
        _with_deep('[{"key": "k", "value": DEEP}]'),
        **{"X-IS-BucketKey": "b", "X-IS-AccessKey": "k", "Accept-Version": "~0"},
    ),
    "deep JSON, Samsara": _post("/v1/events", _with_deep('[{"sourceId": "a", "eventName": DEEP}]')),
    "deep JSON, native records": _post(
        "/v1/streams/sharded/records",
        _with_deep('{"records": [{"partition_key": "p", "data": DEEP}]}'),
    ),
    "deep JSON, Kinesis": _post(
        "/", _with_deep('{"x": DEEP}'), **{"X-Amz-Target": KINESIS + "ListStreams"}
    ),
    "deep JSON, top level": _post("/1.0/events/get", _deep(100_000)),
    "Kronos get, negative limit": _post(
        "/1.0/events/get", {"stream": "canary", "end_time": 2**40, "limit": -1}
    ),
    "Kronos get, end_time past 2**63": _post(
        "/1.0/events/get", {"stream": "canary", "end_time": 2**70}
    ),
    "Kinesis AT_TIMESTAMP 1e12": _kinesis("GetShardIterator", {
        "StreamName": "sharded", "ShardId": "shardId-000000000000",
        "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": 1e12,
    }),
    "native iterator timestamp 1e30": _post(
        "/v1/streams/sharded/shards/0/iterator", {"type": "AT_TIMESTAMP", "timestamp": 1e30}
    ),
    "retention of 2**70 seconds": _post(
        "/v1/streams", {"name": "forever", "shards": 1, "retention_seconds": 2**70}
    ),
    "checkpoint of 2**70": lambda url: httpx.put(
        url + "/v1/streams/sharded/groups/g/checkpoints/0", json={"sequence": 2**70}
    ),
    "non-ASCII native base64": _post(
        "/v1/streams/sharded/record", {"partition_key": "p", "data_base64": "aGk\u00e9"}
    ),
    "non-ASCII Kinesis Data": _kinesis(
        "PutRecord", {"StreamName": "sharded", "PartitionKey": "p", "Data": "aGk\u0660"}
    ),
    "Kinesis shard id of Arabic-Indic digits": _kinesis("GetShardIterator", {
        "StreamName": "sharded", "ShardId": "shardId-\u0660\u0660\u0660",
        "ShardIteratorType": "TRIM_HORIZON",
    }),
    "5,000-digit Accept-Version": _post(
        "/api/events", [{"key": "k", "value": 1}],
        **{"X-IS-BucketKey": "b", "X-IS-AccessKey": "k", "Accept-Version": "9" * 5000},
    ),
    "10 MB Samsara sourceId": _post(
        "/v1/events", [{"sourceId": "a" * 10_000_000, "eventName": "e", "timestamp": 1}]
    ),
    "257-character partition key": _post(
        "/v1/streams/sharded/record",
        {"partition_key": "p" * 257, "data_base64": base64.b64encode(b"x").decode()},
    ),
    "a time string of 1e1000000": _get("/v1/timeseries/count/series", start="1e1000000"),
    "repeated X-Amz-Target": lambda url: httpx.post(
        url + "/",
        content=b'{"StreamName": "sharded"}',
        headers=[("X-Amz-Target", KINESIS + "ListStreams"),
                 ("X-Amz-Target", KINESIS + "DeleteStream")],
    ),
}
# fmt: on


def _still_serving(target: Target) -> None:
    assert httpx.get(target.url + "/healthz").status_code == 200
    got = httpx.post(target.url + "/1.0/events/get", json={"stream": "canary", "end_time": 2**40})
    assert got.status_code == 200
    assert len([line for line in got.content.split(b"\r\n") if line]) == len(CANARY)
    streams = httpx.get(target.url + "/v1/streams").json()["streams"]
    assert streams == ["canary", "sharded"]  # nothing made, nothing deleted


@pytest.mark.parametrize("name", list(ATTACKS))
def test_an_attack_gets_a_4xx_and_changes_nothing(target: Target, name: str) -> None:
    response = ATTACKS[name](target.url)
    assert 400 <= response.status_code < 500, (name, response.status_code, response.text[:300])
    assert len(response.content) < 10_000  # an error names the field; it does not echo input
    _still_serving(target)


def _raw(target: Target, head: bytes) -> bytes:
    """Send ``head`` on a fresh connection and return what the server answers before it
    closes the connection; fail if it keeps the connection open for 30 timeouts."""
    with socket.create_connection(("127.0.0.1", target.port), timeout=30 * TIMEOUT) as sock:
        try:
            sock.sendall(head)
        except OSError:
            pass  # the server may close before it has read everything: that is an answer
        answer = b""
        deadline = time.monotonic() + 30 * TIMEOUT
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return answer
            except TimeoutError:
                break
            if not chunk:
                return answer
            answer += chunk
        raise AssertionError(f"the server held the connection open: {answer[:200]!r}")


@pytest.mark.parametrize(
    ("name", "head", "statuses"),
    [
        ("header bomb", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bomb: " + b"a" * (8 << 20)
         + b"\r\n\r\n", (b"431",)),
        ("too many headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
         + b"".join(b"X-%d: 1\r\n" % i for i in range(500)) + b"\r\n", (b"431",)),
        ("lying Content-Length", b"POST /v1/ingest/s HTTP/1.1\r\nHost: x\r\n"
         b"Content-Length: 1000\r\n\r\n[{\"a\": 1}", (b"408", b"")),
        ("stalled headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a", (b"408", b"")),
    ],
)  # fmt: skip
def test_a_connection_attack_is_refused_or_closed(
    target: Target, name: str, head: bytes, statuses: tuple[bytes, ...]
) -> None:
    answer = _raw(target, head)
    status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/1.1 ") else b""
    assert status in statuses, (name, answer[:200])
    _still_serving(target)
