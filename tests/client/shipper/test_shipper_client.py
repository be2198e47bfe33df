"""The sync and async shippers over httpx.MockTransport: wire format, lifecycle, fork."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from pathlib import Path

import httpx
import pytest

from aion.client.shipper import (
    BATCH_ID_HEADER,
    AsyncShipper,
    OverflowPolicy,
    RetryPolicy,
    RouteTarget,
    Shipper,
    ShipperConfig,
)
from aion.errors import ValidationError

FAST = RetryPolicy(max_attempts=3, base=0.01, cap=0.02)


class Recorder:
    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            status = self.statuses.pop(0) if self.statuses else 204
        return httpx.Response(status)

    def events(self) -> list[object]:
        out: list[object] = []
        for r in self.requests:
            body = r.content
            if r.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            out.extend(json.loads(body))
        return out


def config(**kw: object) -> ShipperConfig:
    base: dict[str, object] = {
        "url": "http://aion.test/ingest",
        "flush_interval": 0.05,
        "retry": FAST,
        "compression": "none",
    }
    base.update(kw)
    return ShipperConfig(**base)  # type: ignore[arg-type]


def test_flush_sends_everything_as_json_arrays() -> None:
    rec = Recorder()
    with Shipper(config(max_batch_events=10), transport=httpx.MockTransport(rec)) as s:
        for i in range(35):
            assert s.put({"i": i})
        assert s.flush(5)
        assert [e["i"] for e in rec.events()] == list(range(35))  # type: ignore[index]
        assert s.counters.sent == 35 and s.counters.depth == 0
    assert all(r.headers["content-type"] == "application/json" for r in rec.requests)


def test_gzip_and_batch_id_header() -> None:
    rec = Recorder([503, 204])
    cfg = config(compression="gzip", gzip_min_bytes=0)
    with Shipper(cfg, transport=httpx.MockTransport(rec), autostart=False) as s:
        s.put({"hello": "world"})
        assert s.flush(5)
    first, second = rec.requests
    assert first.headers["content-encoding"] == "gzip"
    assert first.headers[BATCH_ID_HEADER] == second.headers[BATCH_ID_HEADER]
    assert first.content == second.content  # the retry resends the same bytes
    assert json.loads(gzip.decompress(second.content)) == [{"hello": "world"}]
    assert s.counters.retried == 1


def test_4xx_is_not_retried_and_is_reported() -> None:
    rec = Recorder([400])
    rejected: list[int | None] = []
    s = Shipper(
        config(),
        transport=httpx.MockTransport(rec),
        autostart=False,
        on_reject=lambda batch, result: rejected.append(result.status),
    )
    s.put({"x": 1})
    assert not s.flush(5)  # emptied, but the event was refused: not delivered
    assert len(rec.requests) == 1 and rejected == [400]
    assert s.counters.rejected == 1
    s.close()


def test_routes_choose_url_and_headers() -> None:
    rec = Recorder()
    s = Shipper(
        config(),
        transport=httpx.MockTransport(rec),
        target=lambda route: RouteTarget(f"http://aion.test/{route}", {"X-Route": route}),
        autostart=False,
    )
    s.put({"a": 1}, route="one")
    s.put({"b": 2}, route="two")
    s.put({"c": 3}, route="one")
    s.close(5)
    assert [(r.url.path, r.headers["x-route"]) for r in rec.requests] == [
        ("/one", "one"),
        ("/two", "two"),
        ("/one", "one"),
    ]


def test_unserialisable_event_raises() -> None:
    s = Shipper(config(), transport=httpx.MockTransport(Recorder()), autostart=False)
    with pytest.raises(ValidationError):
        s.put({"x": object()})
    s.close()


def test_events_put_during_a_send_are_kept() -> None:
    gate = threading.Event()
    entered = threading.Event()
    seen: list[object] = []

    def slow(request: httpx.Request) -> httpx.Response:
        entered.set()
        gate.wait(5)
        seen.extend(json.loads(request.content))
        return httpx.Response(204)

    s = Shipper(config(max_batch_events=5), transport=httpx.MockTransport(slow))
    for i in range(5):
        s.put({"i": i})
    assert entered.wait(5)
    for i in range(5, 9):
        s.put({"i": i})
    gate.set()
    assert s.flush(5)
    s.close()
    assert sorted(e["i"] for e in seen) == list(range(9))  # type: ignore[index]


def test_block_policy_waits_for_room() -> None:
    gate = threading.Event()

    def held(request: httpx.Request) -> httpx.Response:
        gate.wait(5)
        return httpx.Response(204)

    cfg = config(max_events=2, max_batch_events=2, overflow="block", block_timeout=0.1)
    s = Shipper(cfg, transport=httpx.MockTransport(held))
    assert s.put({"i": 0}) and s.put({"i": 1})
    time.sleep(0.1)
    started = time.monotonic()
    assert not s.put({"i": 2})  # the buffer is on the wire, no room within 0.1 s
    assert time.monotonic() - started >= 0.09
    assert s.counters.dropped == 1
    threading.Timer(0.05, gate.set).start()
    cfg_wait = s.config.block_timeout
    assert cfg_wait == 0.1
    s.close(5)


def test_without_spool_a_given_up_batch_is_counted_lost() -> None:
    rec = Recorder([500] * 10)
    s = Shipper(config(), transport=httpx.MockTransport(rec), autostart=False)
    s.put({"x": 1})
    assert not s.flush(5)
    assert s.counters.dropped == 1 and s.counters.spilled == 0
    s.close()


def test_spool_then_replay_on_next_start(tmp_path: Path) -> None:
    down = Recorder([500] * 100)
    cfg = config(spool_dir=tmp_path, spool_name="t")
    s = Shipper(cfg, transport=httpx.MockTransport(down), autostart=False)
    for i in range(3):
        s.put({"i": i})
    s.flush(5)
    first_id = down.requests[0].headers[BATCH_ID_HEADER]
    assert s.counters.spilled == 3
    s.close()
    assert (tmp_path / "t.jsonl").exists()
    up = Recorder()
    again = Shipper(cfg, transport=httpx.MockTransport(up), autostart=False)
    assert again.counters.depth == 3
    assert again.flush(5)
    assert up.events() == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert up.requests[0].headers[BATCH_ID_HEADER] == first_id
    assert again.counters.replayed == 3
    again.close()
    assert not list(tmp_path.iterdir())


def test_close_spools_what_is_left(tmp_path: Path) -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    cfg = config(spool_dir=tmp_path, spool_name="t", retry=RetryPolicy(max_attempts=50))
    s = Shipper(cfg, transport=httpx.MockTransport(never))
    for i in range(10):
        s.put({"i": i})
    assert not s.close(0.2)
    assert s.counters.spilled == 10
    lines = (tmp_path / "t.jsonl").read_text().splitlines()
    assert sum(len(json.loads(line)["events"]) for line in lines) == 10
    assert not s.put({"late": True})


def test_overflow_is_counted_exactly() -> None:
    rec = Recorder()
    cfg = config(max_events=100, overflow="drop_newest")
    s = Shipper(cfg, transport=httpx.MockTransport(rec), autostart=False)
    accepted = sum(s.put({"i": i}) for i in range(150))
    assert accepted == 100
    assert (s.counters.queued, s.counters.dropped) == (100, 50)
    assert not s.close(5)  # every queued event was sent, but 50 were dropped
    assert len(rec.events()) == 100 and s.counters.sent == 100


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fork_child_starts_empty() -> None:
    rec = Recorder()
    s = Shipper(config(flush_interval=60), transport=httpx.MockTransport(rec))
    for i in range(4):
        s.put({"i": i})
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its buffer is empty and it can ship its own events
        try:
            ok = s.counters.depth == 0
            s.put({"child": True})
            ok = ok and s.flush(5)
            ok = ok and rec.events()[-1] == {"child": True}
            os.write(write_fd, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    assert os.read(read_fd, 1) == b"1"
    os.close(read_fd)
    assert s.counters.depth == 4  # the parent still holds its own
    assert s.flush(5)
    s.close()
    assert {"child": True} not in rec.events()


async def test_async_shipper_sends_and_flushes() -> None:
    got: list[object] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        got.extend(json.loads(request.content))
        return httpx.Response(204)

    async with AsyncShipper(
        config(max_batch_events=4), transport=httpx.MockTransport(handler)
    ) as s:
        for i in range(10):
            assert s.put({"i": i})
        assert await s.flush(5)
        assert s.counters.sent == 10
    assert [e["i"] for e in got] == list(range(10))  # type: ignore[index]


async def test_async_retries_and_aput_blocks() -> None:
    statuses = [429, 204]

    async def handler(request: httpx.Request) -> httpx.Response:
        status = statuses.pop(0) if statuses else 204
        return httpx.Response(status, headers={"Retry-After": "0"})

    cfg = config(max_events=1, overflow=OverflowPolicy.BLOCK, block_timeout=2)
    s = AsyncShipper(cfg, transport=httpx.MockTransport(handler))
    assert await s.aput({"i": 0})
    assert await s.aput({"i": 1})  # waits until the first one is sent
    assert await s.close(5)
    assert s.counters.sent == 2 and s.counters.retried == 1


async def test_async_full_buffer_spills_to_the_spool_then_delivers(tmp_path: Path) -> None:
    """AsyncShipper, as Shipper: with a spool, a full buffer moves its oldest events there
    instead of dropping them, and they are sent once the server answers."""
    up = threading.Event()
    got: list[object] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if not up.is_set():
            return httpx.Response(503)
        got.extend(json.loads(request.content))
        return httpx.Response(204)

    retry = RetryPolicy(max_attempts=10_000, base=0.01, cap=0.02, max_elapsed=600)
    cfg = config(max_events=10, max_batch_events=5, retry=retry, spool_dir=tmp_path)
    s = AsyncShipper(cfg, transport=httpx.MockTransport(handler))
    for i in range(100):
        assert s.put({"i": i})
    assert s.counters.dropped == 0 and s.counters.spilled >= 80
    up.set()
    deadline = time.monotonic() + 30
    while len(got) < 100:
        assert time.monotonic() < deadline, s.counters
        await s.flush(5)
    await s.close(5)
    assert sorted(e["i"] for e in got) == list(range(100))  # type: ignore[index]
