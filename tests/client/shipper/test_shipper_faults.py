"""Fault tests against a real HTTP server (uvicorn on 127.0.0.1): outages, 429 storms, 5xx,
stalls past the send timeout, and a process exiting with a full buffer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aion.client.shipper import RetryPolicy, Shipper, ShipperConfig
from tests.support.collector import Collector
from tests.support.served import ServedApp, free_port, served


@pytest.fixture
def collector() -> Iterator[tuple[Collector, ServedApp]]:
    c = Collector()
    with served(c.app()) as app:
        yield c, app


def shipper(url: str, **kw: object) -> Shipper:
    base: dict[str, object] = {
        "url": url + "/ingest",
        "flush_interval": 0.02,
        "max_batch_events": 50,
        "retry": RetryPolicy(max_attempts=4, base=0.02, cap=0.1),
        "send_timeout": 2.0,
    }
    base.update(kw)
    return Shipper(ShipperConfig(**base))  # type: ignore[arg-type]


def ids(c: Collector) -> list[int]:
    return sorted(e["i"] for e in c.events)


def test_outage_then_back_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    c = Collector()
    app = ServedApp(c.app())
    app.start()
    s = shipper(app.url, spool_dir=tmp_path, retry=RetryPolicy(max_attempts=2, base=0.02, cap=0.05))
    try:
        for i in range(200):
            s.put({"i": i})
        assert s.flush(5)
        app.stop()  # the server goes away for a while
        for i in range(200, 600):
            s.put({"i": i})
            if i % 50 == 0:
                time.sleep(0.02)
        time.sleep(0.5)
        assert s.counters.spilled > 0  # what could not be sent went to the spool
        app.start()  # and comes back on the same port
        for i in range(600, 700):
            s.put({"i": i})
        deadline = time.monotonic() + 10
        while len(c.events) < 700 and time.monotonic() < deadline:
            s.flush(1)
            time.sleep(0.05)
        assert ids(c) == list(range(700))  # nothing lost, nothing doubled
        assert s.counters.replayed == s.counters.spilled > 0
    finally:
        s.close(2)
        app.stop()
    assert not list(tmp_path.glob("*.jsonl"))


def test_429_storm_honours_retry_after(collector: tuple[Collector, ServedApp]) -> None:
    c, app = collector
    c.throttle_first = 3
    c.retry_after = "0.3"
    s = shipper(app.url, retry=RetryPolicy(max_attempts=10, base=0.01, cap=0.02))
    started = time.monotonic()
    for i in range(100):
        s.put({"i": i})
    assert s.flush(10)
    assert time.monotonic() - started >= 0.85  # three waits of at least 0.3 s
    assert ids(c) == list(range(100))
    assert s.counters.retried >= 3
    s.close()


def test_5xx_are_retried(collector: tuple[Collector, ServedApp]) -> None:
    c, app = collector
    c.fail_first = 3
    s = shipper(app.url)
    for i in range(120):
        s.put({"i": i})
    assert s.flush(10)
    assert ids(c) == list(range(120))
    assert s.counters.retried > 0 and s.counters.sent == 120
    s.close()


def test_stall_past_timeout_is_retried_without_duplicates(
    collector: tuple[Collector, ServedApp],
) -> None:
    c, app = collector
    c.stall_first = 1
    c.stall_seconds = 0.6
    s = shipper(app.url, send_timeout=0.2, retry=RetryPolicy(max_attempts=10, base=0.3, cap=0.5))
    for i in range(30):
        s.put({"i": i})
    assert s.flush(10)
    time.sleep(0.7)  # let the stalled request finish on the server
    assert ids(c) == list(range(30))  # stored once
    assert c.duplicates >= 1  # the retry reached the server with the same batch id
    s.close()


def test_4xx_is_final_on_a_real_server(collector: tuple[Collector, ServedApp]) -> None:
    c, app = collector
    c.mode = "reject400"
    s = shipper(app.url)
    s.put({"i": 0})
    assert not s.flush(5)  # refused for good: not delivered
    assert c.requests == 1 and s.counters.rejected == 1
    s.close()


_EXIT_SCRIPT = """
import sys
from aion.client.shipper import RetryPolicy, Shipper, ShipperConfig

url, spool, count, budget = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = Shipper(ShipperConfig(
    url=url, spool_dir=spool, flush_interval=60, max_batch_events=1000,
    exit_timeout=budget, retry=RetryPolicy(max_attempts=100, base=0.05, cap=0.1),
))
for i in range(count):
    s.put({"i": i})
print(s.counters.queued)
# no flush, no close: the interpreter exits with the buffer full
"""


def run_exit_script(url: str, spool: Path, count: int, exit_timeout: float) -> None:
    """Run a script that exits with ``count`` events buffered; the exit flush has
    ``exit_timeout`` seconds. The subprocess timeout shows the exit is bounded (no hang)."""
    script = textwrap.dedent(_EXIT_SCRIPT)
    proc = subprocess.run(
        [sys.executable, "-c", script, url, str(spool), str(count), str(exit_timeout)],
        capture_output=True,
        text=True,
        timeout=exit_timeout + 120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(count)


def test_exit_with_full_buffer_flushes_at_exit(
    collector: tuple[Collector, ServedApp], tmp_path: Path
) -> None:
    c, app = collector
    # A budget no loaded machine exhausts: the flush ends as soon as all is delivered.
    run_exit_script(app.url + "/ingest", tmp_path, 5000, exit_timeout=60)
    assert ids(c) == list(range(5000))
    assert not list(tmp_path.glob("*.jsonl"))


def test_exit_with_server_down_spools_and_next_start_replays(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/ingest"
    run_exit_script(url, tmp_path, 3000, exit_timeout=0.5)  # nobody listens: all is spooled
    assert (tmp_path / "aion-shipper.jsonl").exists()
    c = Collector()
    with served(c.app(), port=port):
        s = Shipper(ShipperConfig(url=url, spool_dir=tmp_path))
        assert s.flush(10)
        assert s.counters.replayed == 3000
        s.close()
    assert ids(c) == list(range(3000))
    assert list(tmp_path.iterdir()) == []  # replayed and acknowledged: the claim is gone
