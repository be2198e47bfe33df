"""A shipper with a spool across a real outage (a live Aion behind a TCP proxy that is cut):
a full buffer spills its oldest events to the spool instead of dropping them, and they are
delivered after recovery; only past the spool's cap are events dropped, each one counted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aion.client import Client
from aion.client.shipper import RetryPolicy, Shipper, ShipperConfig
from aion.server.app import create_app
from tests.support.kronos import kronos_test_config
from tests.support.live import serve
from tests.support.tcp_proxy import TcpProxy

FAST_RETRIES = RetryPolicy(max_attempts=10_000, base=0.02, cap=0.1, max_elapsed=600)


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[tuple[str, TcpProxy]]:
    """The server's own URL and a proxy in front of it."""
    with serve(create_app(kronos_test_config(tmp_path))) as url:
        port = int(url.rsplit(":", 1)[1])
        proxy = TcpProxy("127.0.0.1", port)
        try:
            yield url, proxy
        finally:
            proxy.close()


def stored(url: str, stream: str) -> list[int]:
    with Client(url, namespace="kronos") as client:
        return sorted(e["i"] for e in client.get(stream, 0, 2**62))


def shipper(proxy: TcpProxy, stream: str, spool: Path, **overrides: object) -> Shipper:
    config = ShipperConfig(
        url=f"http://127.0.0.1:{proxy.port}/v1/ingest/kronos/{stream}",
        max_events=50,
        max_batch_events=20,
        flush_interval=0.05,
        send_timeout=2.0,
        retry=FAST_RETRIES,
        spool_dir=spool,
        spool_name=stream,
        **overrides,  # type: ignore[arg-type]
    )
    return Shipper(config)


def deliver_all(s: Shipper, url: str, stream: str, expected: int) -> None:
    """Flush until the server holds ``expected`` events (a generous deadline, no sleeps)."""
    deadline = time.monotonic() + 60
    while len(stored(url, stream)) < expected:
        assert time.monotonic() < deadline, (s.counters, len(stored(url, stream)))
        s.flush(5)


@pytest.mark.parametrize("overflow", ["drop_oldest", "drop_newest", "block"])
def test_a_full_buffer_spills_to_the_spool_and_nothing_is_lost(
    outage: tuple[str, TcpProxy], tmp_path: Path, overflow: str
) -> None:
    url, proxy = outage
    proxy.cut()
    s = shipper(proxy, f"outage_{overflow}", tmp_path / "spool", overflow=overflow,
                block_timeout=0.01)  # fmt: skip
    total = 1_000  # twenty times the buffer, while the server is unreachable
    assert all(s.put({"i": i}) for i in range(total))
    assert s.counters.spilled >= total - 50 - 20
    assert s.counters.dropped == 0
    proxy.restore()
    deliver_all(s, url, f"outage_{overflow}", total)
    assert s.flush(5)  # nothing refused, dropped or spooled since the last flush
    counters = s.counters
    s.close()
    assert stored(url, f"outage_{overflow}") == list(range(total))  # each once
    assert counters.dropped == 0 and counters.depth == 0


def test_past_the_spool_cap_events_are_dropped_and_counted_exactly(
    outage: tuple[str, TcpProxy], tmp_path: Path
) -> None:
    url, proxy = outage
    proxy.cut()
    s = shipper(proxy, "capped", tmp_path / "spool", spool_max_bytes=1_500)
    total = 1_000
    for i in range(total):
        s.put({"i": i})
    dropped = s.counters.dropped
    assert dropped > 0  # the spool filled up
    proxy.restore()
    deadline = time.monotonic() + 60
    while s.counters.depth or not s.flush(5):
        assert time.monotonic() < deadline, s.counters
    s.close()
    got = stored(url, "capped")
    assert len(got) == len(set(got))  # nothing stored twice
    assert s.counters.dropped == dropped == total - len(got)  # every lost event counted
    assert s.counters.sent == len(got)
