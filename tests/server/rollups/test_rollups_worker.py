"""The rollup consumer against real stores: every event counted once, across restarts,
racing consumers, bad events and new streams.

The rollup backends are memory, a SQLite file, Redis and PostgreSQL; the stream log is the
in-memory one (the SQL stream log under a real server is covered by the kill -9 test).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aion.server.rollups.rules import RollupRule, parse_rollups
from aion.server.rollups.worker import RollupWorker
from aion.streams.backends.memory import MemoryStreamLog
from aion.streams.protocol import AppendRecord, StreamLog
from aion.timeseries import Timeseries
from tests.support.services import REDIS_URL, require

T0 = 1_800_000_000
TICKS = 10_000_000
ROLLUP_BACKENDS = ["memory", "sqlite", "redis", "postgresql"]


@pytest.fixture(params=ROLLUP_BACKENDS)
def rollup_backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """A backend URL and options, isolated per test."""
    name: str = request.param
    tag = uuid.uuid4().hex[:8]
    if name == "memory":
        return "memory://", {}
    if name == "sqlite":
        return f"sqlite:///{tmp_path / 'rollups.db'}", {}
    request.applymarker(pytest.mark.service)
    if name == "redis":
        require("redis")
        return REDIS_URL, {"prefix": f"aiontest-{tag}"}
    url: str = request.getfixturevalue("postgres_url")
    return url.replace("postgresql://", "postgresql+psycopg://", 1), {"table_name": f"r_{tag}"}


@pytest.fixture
async def stream_log() -> AsyncIterator[StreamLog]:
    log = MemoryStreamLog()
    await log.open()
    yield log
    await log.close()


def _rules(backend: tuple[str, dict[str, Any]], **extra: Any) -> tuple[RollupRule, ...]:
    url, options = backend
    return parse_rollups(
        [
            {
                "stream": "web.",
                "timeseries": "views.{page}",
                "type": "count",
                "intervals": {"minute": {"step": 60}, "hour": {"step": "1h"}},
                "backend": url,
                "options": options,
                **extra,
            }
        ]
    )


async def _put(log: StreamLog, stream: str, events: list[dict[str, Any]], shards: int = 2) -> None:
    await log.create_stream("default", stream, shards=shards)
    records = [AppendRecord(f"k{i}", msgspec.json.encode(event)) for i, event in enumerate(events)]
    for start in range(0, len(records), 500):
        await log.append("default", stream, records[start : start + 500])


def _events(n: int, page: str = "home") -> list[dict[str, Any]]:
    return [{"@time": (T0 + i) * TICKS, "page": page} for i in range(n)]


async def _until(check: Callable[[], bool], seconds: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def _total(ts: Timeseries, name: str) -> int:
    value: int = ts.get(name, "hour", timestamp=T0)[T0]
    return value


def _worker(log: StreamLog, rules: tuple[RollupRule, ...]) -> RollupWorker:
    return RollupWorker(log, rules, poll_seconds=0.1, batch=100, lease_seconds=1.5)


async def test_counts_every_event_once_across_restarts(
    stream_log: StreamLog, rollup_backend: tuple[str, dict[str, Any]]
) -> None:
    rules = _rules(rollup_backend)
    await _put(stream_log, "web.a", _events(700))
    await _put(stream_log, "other", _events(50))
    worker = _worker(stream_log, rules)
    await worker.start()
    try:
        ts = worker.timeseries[rules[0].name]
        await _until(lambda: worker.stats[rules[0].name].events == 700)
        assert await asyncio.to_thread(_total, ts, "views.home") == 700
        minute = await asyncio.to_thread(ts.get, "views.home", "minute", T0 + 60)
        assert minute == {T0 + 60: 60}  # @time picked the bucket, not arrival
    finally:
        await worker.stop()
    if rollup_backend[0] == "memory://":
        return  # memory rollups start afresh with their checkpoints; nothing to resume
    await _put(stream_log, "web.a", _events(300, "about"))
    again = _worker(stream_log, rules)
    await again.start()
    try:
        await _until(lambda: again.stats[rules[0].name].events == 300)
        await asyncio.sleep(0.3)  # would a second pass over the old events double them?
        ts = again.timeseries[rules[0].name]
        assert await asyncio.to_thread(_total, ts, "views.home") == 700
        assert await asyncio.to_thread(_total, ts, "views.about") == 300
        assert again.stats[rules[0].name].events == 300
        await asyncio.to_thread(ts.delete_all)
    finally:
        await again.stop()


async def test_racing_workers_count_once(
    stream_log: StreamLog, rollup_backend: tuple[str, dict[str, Any]]
) -> None:
    if rollup_backend[0] == "memory://":
        pytest.skip("two memory:// rules are two stores; racing needs one store")
    rules = _rules(rollup_backend)
    first, second = _worker(stream_log, rules), _worker(stream_log, rules)
    await first.start()
    await second.start()
    try:
        await _put(stream_log, "web.race", _events(1500))
        name = rules[0].name

        def done() -> bool:
            return first.stats[name].events + second.stats[name].events >= 1500

        await _until(done)
        await asyncio.sleep(0.3)
        assert first.stats[name].events + second.stats[name].events == 1500
        ts = first.timeseries[name]
        assert await asyncio.to_thread(_total, ts, "views.home") == 1500
        await asyncio.to_thread(ts.delete_all)
    finally:
        await first.stop()
        await second.stop()


async def test_new_streams_and_bad_events(
    stream_log: StreamLog, rollup_backend: tuple[str, dict[str, Any]]
) -> None:
    rules = _rules(rollup_backend, value="n")
    worker = _worker(stream_log, rules)
    await worker.start()
    name = rules[0].name
    try:
        await asyncio.sleep(0.2)
        # Created after the worker started: found by the periodic listing.
        events: list[dict[str, Any]] = [
            {"@time": T0 * TICKS, "page": "p", "n": 2},
            {"@time": T0 * TICKS, "page": "p"},  # no value
            {"@time": T0 * TICKS, "page": "p:q" if "redis" in rollup_backend[0] else "p" * 300,
             "n": 1},  # a name this backend refuses
            {"@time": T0 * TICKS, "page": "p", "n": 3.5},
        ]  # fmt: skip
        await _put(stream_log, "web.late", events, shards=1)
        stats = worker.stats[name]
        await _until(lambda: stats.events + stats.skipped == 4)
        ts = worker.timeseries[name]
        if rollup_backend[0] == "memory://":
            assert (stats.events, stats.skipped) == (3, 1)  # memory takes any name
        else:
            assert (stats.events, stats.skipped) == (2, 2)
            assert stats.last_error is not None
        assert await asyncio.to_thread(_total, ts, "views.p") == 5.5
        await asyncio.to_thread(ts.delete_all)
    finally:
        await worker.stop()


async def test_start_latest_skips_what_was_there(stream_log: StreamLog, tmp_path: Path) -> None:
    rules = _rules((f"sqlite:///{tmp_path / 'r.db'}", {}), start="latest")
    await _put(stream_log, "web.old", _events(40), shards=1)
    worker = _worker(stream_log, rules)
    await worker.start()
    try:
        await asyncio.sleep(0.4)
        await stream_log.append(
            "default", "web.old", [AppendRecord("k", msgspec.json.encode(_events(1)[0]))]
        )
        await _until(lambda: worker.stats[rules[0].name].events == 1)
        ts = worker.timeseries[rules[0].name]
        assert await asyncio.to_thread(_total, ts, "views.home") == 1
    finally:
        await worker.stop()


async def test_no_rules_idles(stream_log: StreamLog) -> None:
    worker = _worker(stream_log, ())
    async with worker.running():
        assert worker.timeseries == {}
