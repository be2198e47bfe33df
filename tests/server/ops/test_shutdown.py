"""SIGTERM during a put load: every acknowledged put is there after a restart, the server
exits cleanly, and a request it had taken in gets its answer.

A connection that races the close of the listening socket (accepted by the kernel, not yet
read by the server) is reset by any server; each writer thread stops at its first failure, so
at most one such request per writer is counted, never an acknowledged one.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.support.procs import running_server, start_server

WRITERS = 8


class Load:
    """Threads that put one event per request until the server goes away."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acknowledged: list[str] = []
        self.refused = 0  # could not connect: the server had stopped listening
        self.cut = 0  # connected, sent, and got no answer
        self.other: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def run(self, writer: int) -> None:
        # A new connection per request: uvicorn closes idle keep-alive connections at shutdown,
        # and a request racing that close is lost by any server; this test is about the rest.
        with httpx.Client(timeout=20, limits=httpx.Limits(max_keepalive_connections=0)) as c:
            for n in range(1_000_000):
                if self.stop.is_set():
                    return
                marker = f"{writer}-{n}"
                body = {"events": {"load": [{"marker": marker, "pad": "x" * 200}]}}
                try:
                    response = c.post(self.url + "/1.0/events/put", json=body)
                except httpx.ConnectError:
                    with self._lock:
                        self.refused += 1
                    return
                except (httpx.RemoteProtocolError, httpx.ReadError):
                    with self._lock:
                        self.cut += 1
                    return
                if response.status_code == 200 and response.json()["@success"]:
                    with self._lock:
                        self.acknowledged.append(marker)
                else:
                    with self._lock:
                        self.other.append(f"{response.status_code} {response.text[:200]}")
                    return


def test_sigterm_drains_in_flight_puts(tmp_path: Path) -> None:
    proc, url = start_server(tmp_path)
    load = Load(url)
    threads = [threading.Thread(target=load.run, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(load.acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGTERM)
    code = proc.wait(30)
    load.stop.set()
    for thread in threads:
        thread.join(30)
    # uvicorn re-raises the signal once it has shut down gracefully.
    assert code in (0, -signal.SIGTERM)
    assert load.other == []
    assert len(load.acknowledged) >= 300
    assert load.cut + load.refused <= WRITERS

    with running_server(tmp_path) as again:
        body = {"stream": "load", "end_time": 2**62}
        response = httpx.post(again + "/1.0/events/get", json=body, timeout=30)
        stored = {line for line in response.text.split("\r\n") if line}
    markers = {httpx.Response(200, content=line).json()["marker"] for line in stored}
    missing = set(load.acknowledged) - markers
    assert not missing, f"{len(missing)} acknowledged puts were lost"


def test_a_request_in_flight_at_sigterm_is_answered_and_stored(tmp_path: Path) -> None:
    proc, url = start_server(tmp_path)
    sent_head = threading.Event()
    head = b'{"events": {"slow": [{"marker": "in-flight", "pad": "'

    def body() -> Iterator[bytes]:
        yield head
        sent_head.set()
        time.sleep(1.0)  # SIGTERM arrives while the body is still coming
        yield b'x"}]}}'

    answer: list[httpx.Response] = []

    def put() -> None:
        with httpx.Client(timeout=20) as c:
            answer.append(c.post(url + "/1.0/events/put", content=body()))

    thread = threading.Thread(target=put)
    thread.start()
    assert sent_head.wait(10)
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGTERM)
    thread.join(30)
    proc.wait(30)
    assert answer and answer[0].status_code == 200, answer
    assert answer[0].json()["@success"] is True
    with running_server(tmp_path) as again:
        got = httpx.post(again + "/1.0/events/get", json={"stream": "slow", "end_time": 2**62})
    assert '"in-flight"' in got.text
