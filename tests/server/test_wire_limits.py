"""The connection level, over real sockets to a real uvicorn with Aion's protocol: header caps,
the request clock, and a client that goes away mid-body.

Every wait is on a condition with a generous deadline; no assertion depends on how fast the
machine is. The request timeouts are short (1 s) where the test waits for a drop, and long
next to the test's own pauses where it checks that nothing is cut.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import select
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aion.errors import ConfigurationError
from aion.server.app import create_app
from aion.server.config import AionConfig
from aion.server.ops.connection import LimitedHttpToolsProtocol, WireLimits, uvicorn_options
from tests.support.live import LiveServer
from tests.support.procs import running_server

DEADLINE_SECONDS = 30.0
INGEST_HEAD = b"POST /v1/ingest/s HTTP/1.1\r\nHost: aion\r\nContent-Type: application/json\r\n"


class Records(logging.Handler):
    """The log records of a few loggers, whatever the logging configuration."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def named(self, name: str) -> list[logging.LogRecord]:
        return [r for r in self.records if r.name == name]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    names = ["aion.server.connection", "aion.server.disconnects", "aion.access", "uvicorn.error"]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


@pytest.fixture
def app_config(tmp_path: Path) -> AionConfig:
    return AionConfig.for_data_dir(tmp_path)


@pytest.fixture
def serving(app_config: AionConfig) -> Iterator[Callable[..., LiveServer]]:
    """Start a server with the given limits; stopped after the test."""
    started: list[LiveServer] = []

    def start(**limits: Any) -> LiveServer:
        server = LiveServer(create_app(app_config), limits=WireLimits(**limits))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE_SECONDS)


def read_until_closed(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection; a reset ends it too. Fails if the
    connection is still open after the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    received = b""
    try:
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk
    except ConnectionResetError:
        return received
    except TimeoutError:
        pytest.fail(f"the connection was still open after {DEADLINE_SECONDS}s: {received!r}")
    finally:
        sock.close()


def status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer
    return int(answer.split(b" ", 2)[1])


def body(answer: bytes) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    return decoded


def exchange(server: LiveServer, request: bytes) -> bytes:
    sock = connect(server)
    sock.sendall(request)
    return read_until_closed(sock)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {DEADLINE_SECONDS}s")
        time.sleep(0.02)


def rss_bytes() -> int:
    """This process's resident memory now (the test server runs in one of its threads)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# Header caps


def test_a_header_bomb_is_refused_and_does_not_grow_the_server(
    serving: Callable[..., LiveServer],
) -> None:
    server = serving(max_header_bytes=65_536)
    bomb = 64 * 1024 * 1024  # one header value of 64 MiB: the server must hold ~none of it
    piece = b"a" * 65_536
    before = rss_bytes()
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: aion\r\nX-Bomb: ")
    sent = 0
    try:
        while sent < bomb:
            sock.sendall(piece)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server stopped reading: what it refused is not in its memory either
    grown = rss_bytes() - before  # with the connection still open
    answer = read_until_closed(sock)
    assert answer == b"" or status(answer) == 431, answer
    assert grown < bomb // 4, f"the process grew by {grown} bytes during a {bomb}-byte bomb"
    assert httpx.get(server.url + "/healthz", timeout=DEADLINE_SECONDS).status_code == 200


def test_too_many_header_fields_get_431(serving: Callable[..., LiveServer]) -> None:
    server = serving(max_headers=10)
    head = b"GET /healthz HTTP/1.1\r\nHost: aion\r\nConnection: close\r\n"
    fields = b"".join(b"X-Field-%d: v\r\n" % i for i in range(8))  # ten in all
    assert status(exchange(server, head + fields + b"\r\n")) == 200
    answer = exchange(server, head + fields + b"X-One-Too-Many: v\r\n\r\n")
    assert status(answer) == 431
    assert body(answer) == {"@errors": ["the request has over 10 header fields"], "@success": False}


def test_a_head_over_the_byte_cap_gets_431_and_a_long_target_414(
    serving: Callable[..., LiveServer],
) -> None:
    server = serving(max_header_bytes=4096)
    big = b"X-Big: " + b"b" * 5000 + b"\r\n"
    answer = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: aion\r\n" + big + b"\r\n")
    assert status(answer) == 431
    assert body(answer)["@errors"] == ["the request head is over 4096 bytes"]
    answer = exchange(server, b"GET /healthz?" + b"q" * 5000 + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    assert status(answer) == 414


# The request clock


def test_a_stalled_body_is_dropped_with_408(
    serving: Callable[..., LiveServer], records: Records
) -> None:
    server = serving(request_timeout_seconds=1.0)
    sock = connect(server)
    sock.sendall(INGEST_HEAD + b"Content-Length: 1000\r\n\r\n" + b"[" + b" " * 9)
    answer = read_until_closed(sock)
    assert status(answer) == 408
    assert body(answer)["@errors"] == ["the request body paused for over 1s"]
    # The app saw the client go: one line, no traceback.
    wait_for(lambda: bool(records.named("aion.server.disconnects")), "the disconnect line")
    assert not [r for r in records.records if r.levelno >= logging.ERROR]


def test_a_trickled_head_is_dropped(serving: Callable[..., LiveServer]) -> None:
    server = serving(request_timeout_seconds=1.0)
    sock = connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: aion\r\nX-Slow: ")
    deadline = time.monotonic() + DEADLINE_SECONDS
    # One byte every 50 ms, never a pause near the timeout: the head's clock still runs out.
    while not select.select([sock], [], [], 0.05)[0]:
        if time.monotonic() > deadline:
            pytest.fail("the server still read a trickled head after the deadline")
        try:
            sock.sendall(b"a")
        except (BrokenPipeError, ConnectionResetError):
            break
    answer = read_until_closed(sock)
    assert answer == b"" or status(answer) == 408, answer


def test_a_silent_connection_is_closed(serving: Callable[..., LiveServer]) -> None:
    server = serving(request_timeout_seconds=1.0)
    assert read_until_closed(connect(server)) == b""


def test_a_slow_steady_upload_is_not_cut(serving: Callable[..., LiveServer]) -> None:
    timeout = 3.0
    server = serving(request_timeout_seconds=timeout)
    sock = connect(server)
    sock.sendall(INGEST_HEAD + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")

    def send_chunk(data: bytes) -> None:
        sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))

    send_chunk(b"[")
    started = time.monotonic()
    events = 0
    # The upload lasts longer than the timeout, with pauses far shorter than it.
    while time.monotonic() - started < timeout * 1.5:
        send_chunk(b'{"n": %d},' % events)
        events += 1
        time.sleep(0.05)
    send_chunk(b'{"n": -1}]')
    sock.sendall(b"0\r\n\r\n")
    answer = read_until_closed(sock)
    assert status(answer) == 200, answer
    assert body(answer)["inserted"] == events + 1


def test_a_long_poll_read_is_not_cut(serving: Callable[..., LiveServer]) -> None:
    server = serving(request_timeout_seconds=1.0)
    with httpx.Client(base_url=server.url, timeout=DEADLINE_SECONDS) as client:
        assert client.post("/v1/streams", json={"name": "polled"}).status_code < 300
        made = client.post("/v1/streams/polled/shards/0/iterator", json={})
        iterator = made.json()["iterator"]
        started = time.monotonic()
        read = client.post("/v1/streams/polled/read", json={"iterator": iterator, "wait": 3.0})
        waited = time.monotonic() - started
    assert read.status_code == 200, read.text
    assert read.json()["records"] == []
    assert waited > 1.0  # the response took longer than the request timeout


# A client that goes away


def test_a_client_gone_mid_body_is_one_log_line(
    serving: Callable[..., LiveServer], records: Records
) -> None:
    server = serving()
    sock = connect(server)
    sock.sendall(INGEST_HEAD + b"Content-Length: 1000\r\n\r\n" + b"[" + b" " * 9)
    sock.close()
    wait_for(lambda: bool(records.named("aion.access")), "the access line")
    (line,) = records.named("aion.server.disconnects")
    assert line.levelno == logging.INFO
    message = line.getMessage()
    assert "POST /v1/ingest/s" in message and "127.0.0.1:" in message
    assert records.named("aion.access")[0].__dict__["status"] == 499
    assert not [r for r in records.records if r.levelno >= logging.ERROR]


# aion serve, one worker and several


@pytest.mark.parametrize("workers", [1, 2])
def test_aion_serve_applies_the_configured_limits(tmp_path: Path, workers: int) -> None:
    config = tmp_path / "aion.toml"
    config.write_text("max_headers = 5\nrequest_timeout_seconds = 1.5\n", encoding="utf-8")
    with running_server(tmp_path / "data", config=config, workers=workers) as url:
        port = int(url.rsplit(":", 1)[1])
        fields = b"".join(b"X-%d: v\r\n" % i for i in range(5))
        sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_SECONDS)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: aion\r\n" + fields + b"\r\n")
        answer = read_until_closed(sock)
        assert status(answer) == 431
        silent = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_SECONDS)
        assert read_until_closed(silent) == b""


# The settings


def test_the_settings_come_from_aion_toml(tmp_path: Path) -> None:
    raw = {"max_header_bytes": 8192, "max_headers": 20, "request_timeout_seconds": 5}
    config = AionConfig.from_mapping(raw, data_dir=tmp_path)
    assert WireLimits.from_config(config) == WireLimits(8192, 20, 5.0)
    defaults = AionConfig.for_data_dir(tmp_path)
    assert WireLimits.from_config(defaults) == WireLimits(65_536, 100, 30.0)


def test_the_uvicorn_options_pickle_for_workers_and_bound_h11_too() -> None:
    limits = WireLimits(max_header_bytes=8192, max_headers=20, request_timeout_seconds=5.0)
    options = uvicorn_options(limits)
    assert options["h11_max_incomplete_event_size"] == 8192
    protocol = pickle.loads(pickle.dumps(options["http"]))  # as uvicorn hands it to a worker
    assert protocol.func is LimitedHttpToolsProtocol and protocol.keywords == {"limits": limits}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_headers", "many", "max_headers must be an integer"),
        ("max_headers", True, "max_headers must be an integer"),
        ("max_headers", 0, "max_headers must be positive"),
        ("max_header_bytes", 100, "max_header_bytes must be at least 1024"),
        ("request_timeout_seconds", "30s", "request_timeout_seconds must be a number"),
        ("request_timeout_seconds", 0, "request_timeout_seconds must be a positive number"),
        ("request_timeout_seconds", float("inf"), "request_timeout_seconds must be a positive"),
    ],
)
def test_a_bad_setting_is_refused_naming_its_key(
    tmp_path: Path, key: str, value: object, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        AionConfig.from_mapping({key: value}, data_dir=tmp_path)
