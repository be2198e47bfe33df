"""Soak: the server's memory stays bounded while millions of events go in and stream out.

Run with ``make test-slow``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import msgspec
import pytest

from tests.support.procs import running_server_with_pid

EVENTS = 2_000_000
BATCH = 5_000
SENDERS = 2
RSS_LIMIT_MB = 300


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


def _body(start: int) -> bytes:
    events = [{"n": i, "pad": "x" * 100, "tag": f"t{i % 97}"} for i in range(start, start + BATCH)]
    return msgspec.json.encode({"events": {"soak": events}})


@pytest.mark.slow
def test_memory_stays_bounded_through_millions_of_events(tmp_path: Path) -> None:
    with running_server_with_pid(tmp_path) as (url, pid):
        starts = list(range(0, EVENTS, BATCH))
        failures: list[str] = []

        def send(mine: list[int]) -> None:
            with httpx.Client(timeout=120) as http:
                for start in mine:
                    r = http.post(url + "/1.0/events/put", content=_body(start))
                    if r.status_code != 200:
                        failures.append(r.text[:200])

        threads = [
            threading.Thread(target=send, args=(starts[i::SENDERS],)) for i in range(SENDERS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures
        count = 0
        body = {"stream": "soak", "start_time": 0, "end_time": 2**62}
        with (
            httpx.Client(timeout=600) as http,
            http.stream("POST", url + "/1.0/events/get", json=body) as response,
        ):
            for chunk in response.iter_raw():
                count += chunk.count(b"\n")
        assert count == EVENTS
        assert _peak_rss_mb(pid) < RSS_LIMIT_MB
