"""What consumer groups promise, measured on every backend: leases expire on the store's
clock (a server whose clock is 20 s off owns nothing twice), checkpoints are compare-and-set,
workers joining a group deliver every record once, and a crash repeats at most one batch per
shard of the crashed worker."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from aion.streams.groups import membership
from aion.streams.groups.consumer import GroupConsumer
from aion.streams.protocol import AppendRecord, StoredRecord, StreamLog
from tests.support.backends import SHARED_STREAM_LOGS, params, stream_log_url
from tests.support.clock import wall_clock_shifted
from tests.support.group_worker import BATCH
from tests.support.paths import ROOT
from tests.support.stream_logs import opened


def records(start: int, n: int) -> list[AppendRecord]:
    return [AppendRecord(f"key-{i % 53}", f"rec-{i}".encode()) for i in range(start, start + n)]


async def until(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Wait for ``check()`` (polling); fail naming ``what`` after a generous deadline."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not reached: {what}"
        await asyncio.sleep(0.02)


async def test_a_server_clock_20_s_off_does_not_double_own(
    two_logs: tuple[StreamLog, StreamLog], ns: str
) -> None:
    # Server "a" has the right time; server "b" hosts two workers, one heartbeating with its
    # clock 20 s ahead, one 20 s behind. Leases outlive none of that only if the store's
    # clock, not the server's, decides expiry.
    a, b = two_logs
    await a.create_stream(ns, "s", shards=8)
    servers = {"wa": (a, 0.0), "fast": (b, 20.0), "slow": (b, -20.0)}
    owned: dict[str, set[int]] = {worker: set() for worker in servers}
    for _ in range(8):
        for worker, (log, offset) in servers.items():
            with wall_clock_shifted(offset):
                held = await membership.heartbeat(log, ns, "s", "g", worker, 10.0)
                # Between batches, as a remote worker heartbeats: hand over at once.
                for lease in getattr(held, "handing_over", {}).values():
                    await membership.release(log, ns, "s", "g", worker, lease, 10.0)
            owned[worker] = set(held.leases)
            for other, theirs in owned.items():
                assert other == worker or not owned[worker] & theirs, (worker, other, owned)
    assert sorted(itertools.chain(*owned.values())) == list(range(8))
    assert sorted(len(mine) for mine in owned.values()) == [2, 3, 3]


async def test_a_stale_in_process_checkpoint_is_refused(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=1)
    seqs = [q for _, q in await log.append(ns, "s", records(0, 10))]
    gate = asyncio.Event()
    handled: list[bytes] = []

    async def handle(record: StoredRecord) -> None:
        handled.append(record.data)
        if record.data == b"rec-2":
            await gate.wait()

    consumer = GroupConsumer(
        log, ns, "s", "g", "a", handle, heartbeat_seconds=0.1, batch=5, wait_seconds=0.05
    )
    running = asyncio.create_task(consumer.run())
    try:
        await until(lambda: b"rec-2" in handled, "the first batch in hand")
        # Meanwhile the shard went on under another worker, through rec-7.
        assert await log.set_checkpoint(ns, "s", "g", 0, seqs[7], expected=0)
        gate.set()
        await until(lambda: b"rec-9" in handled, "the rest handled")
        # The batch in hand could not move the checkpoint back to rec-4: the worker went on
        # after the other's checkpoint, not over its records again.
        assert handled == [f"rec-{i}".encode() for i in (0, 1, 2, 3, 4, 8, 9)]
    finally:
        consumer.stop()
        await running
    assert await log.get_checkpoints(ns, "s", "g") == {0: seqs[9]}


async def test_three_workers_joining_deliver_every_record_once(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=8)
    total = 3000
    seen: Counter[bytes] = Counter()

    async def handle(record: StoredRecord) -> None:
        seen[record.data] += 1
        await asyncio.sleep(0.0005)  # a handler doing some work: batches take a while

    async def feed() -> None:
        for start in range(0, total, 100):
            await log.append(ns, "s", records(start, 100))
            await asyncio.sleep(0.01)

    workers = [
        GroupConsumer(
            log,
            ns,
            "s",
            "g",
            f"w{i}",
            handle,
            lease_seconds=10,
            heartbeat_seconds=0.1,
            batch=20,
            wait_seconds=0.05,
        )
        for i in range(3)
    ]
    feeder = asyncio.create_task(feed())
    runs = []
    try:
        # Each joins while records flow and the others hold every shard.
        for i, worker in enumerate(workers):
            runs.append(asyncio.create_task(worker.run()))
            await until(lambda w=worker: bool(w.shards), f"w{i} holds a shard")  # type: ignore[misc]
        await feeder
        await until(lambda: len(seen) == total, "every record handled")
        await until(
            lambda: sorted(len(w.shards) for w in workers) == [2, 3, 3], "the group balanced"
        )
    finally:
        feeder.cancel()
        for worker in workers:
            worker.stop()
        await asyncio.gather(*runs)
    twice = {data: n for data, n in seen.items() if n > 1}
    assert len(seen) == total and not twice, f"{len(twice)} records delivered more than once"


def _start(url: str, ns: str, name: str, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.group_worker",
            url,
            ns,
            "s",
            "g",
            name,
            str(out),
            *extra,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _lines(outs: list[Path]) -> list[str]:
    return [line for out in outs if out.exists() for line in out.read_text().split()]


def _shards(out: Path) -> set[int]:
    path = Path(f"{out}.shards")
    return {int(x) for x in path.read_text().split()} if path.exists() else set()


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(params=params(SHARED_STREAM_LOGS))
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return stream_log_url(request.param, tmp_path, request)


async def test_worker_processes_with_a_clock_off_deliver_every_record_once(
    shared_url: str, ns: str, tmp_path: Path
) -> None:
    # Three processes, one with its clock 20 s ahead and one 20 s behind, join while
    # records flow; nobody crashes, so nothing may be delivered twice.
    async with opened(shared_url, ns) as log:
        await log.create_stream(ns, "s", shards=8)
        total = 2000
        outs = [tmp_path / f"w{i}.out" for i in range(3)]
        procs = []
        try:
            for i, offset in enumerate(("0", "20", "-20")):
                procs.append(_start(shared_url, ns, f"w{i}", outs[i], offset, "6"))
                await log.append(ns, "s", records(i * 300, 300))
                await until(lambda o=outs[i]: bool(_shards(o)), f"w{i} holds a shard")  # type: ignore[misc]
            await log.append(ns, "s", records(900, total - 900))
            await until(lambda: len(set(_lines(outs))) >= total, "every record handled")
            await until(
                lambda: sorted(len(_shards(o)) for o in outs) == [2, 3, 3], "the group balanced"
            )
        finally:
            _stop(procs)
        counts = Counter(_lines(outs))
        twice = [line for line, n in counts.items() if n > 1]
        assert len(counts) == total and not twice, f"{len(twice)} records delivered twice"
        leases = await log.get_leases(ns, "s", "g")
        assert all(lease.owner is None for lease in leases.values())


async def test_a_crash_repeats_at_most_one_batch_per_shard(
    shared_url: str, ns: str, tmp_path: Path
) -> None:
    async with opened(shared_url, ns) as log:
        await log.create_stream(ns, "s", shards=6)
        outs = [tmp_path / f"w{i}.out" for i in range(3)]
        procs = [_start(shared_url, ns, f"w{i}", out, "0", "3") for i, out in enumerate(outs)]
        try:
            await log.append(ns, "s", records(0, 600))
            await until(
                lambda: sorted(len(_shards(o)) for o in outs) == [2, 2, 2], "the group balanced"
            )
            victim = _shards(outs[0])
            procs[0].send_signal(signal.SIGKILL)  # mid-load: no checkpoint, no leave
            procs[0].wait()
            await log.append(ns, "s", records(600, 600))
            expected = {f"rec-{i}" for i in range(1200)}
            await until(lambda: set(_lines(outs)) >= expected, "every record handled")
        finally:
            _stop(procs)
        counts = Counter(_lines(outs))
        assert set(counts) == expected
        twice = sum(n - 1 for n in counts.values())
        assert twice <= BATCH * len(victim), (twice, victim)
