"""Consumer groups: in-process rebalancing, and worker processes killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aion.storage.schema import CHECKPOINTS_TABLE
from aion.streams.groups.consumer import GroupConsumer
from aion.streams.protocol import TRIM_HORIZON, AppendRecord, StoredRecord, StreamLog
from aion.streams.reader import ShardReader
from tests.support.backends import unique
from tests.support.paths import ROOT
from tests.support.services import REDIS_URL, require
from tests.support.stream_logs import open_log


def batch(start: int, n: int) -> list[AppendRecord]:
    return [AppendRecord(f"key-{i % 37}", f"rec-{i}".encode()) for i in range(start, start + n)]


async def test_reader_round_robin_and_stop_drains(log: StreamLog, ns: str) -> None:
    await log.create_stream(ns, "s", shards=3)
    placed = await log.append(ns, "s", batch(0, 90))
    assert {shard for shard, _ in placed} == {0, 1, 2}
    reader = ShardReader(log, ns, "s", position=TRIM_HORIZON, batch=10, wait_seconds=0.2)
    seen: list[StoredRecord] = []
    async with reader:
        # Once every shard has something buffered, the next three records come one from each
        # shard: a shard whose fetch answered first cannot starve the others.
        deadline = time.monotonic() + 10
        while not all(reader.buffered.values()):
            assert time.monotonic() < deadline, reader.buffered
            await asyncio.sleep(0.01)
        async for record in reader:
            seen.append(record)
            if len(seen) == 3:
                assert {r.shard for r in seen} == {0, 1, 2}  # nobody starves
            if len(seen) == 90:
                await reader.stop()
    assert sorted((r.shard, r.sequence) for r in seen) == sorted(placed)
    for shard in range(3):
        mine = [r.sequence for r in seen if r.shard == shard]
        assert mine == sorted(mine)
        assert reader.delivered[shard] == mine[-1]


async def test_reader_stop_keeps_fetched_records(ns: str) -> None:
    log = open_log("memory://")
    await log.create_stream(ns, "s", shards=2)
    await log.append(ns, "s", batch(0, 40))
    reader = ShardReader(log, ns, "s", shards=[0, 1], batch=100, wait_seconds=0.1)
    await reader.start()
    first = await reader.__anext__()
    await reader.stop()
    rest = [r async for r in reader]
    assert len(rest) + 1 == 40 and first not in rest
    await log.append(ns, "s", batch(40, 5))
    assert [r async for r in reader] == []


async def test_group_members_split_shards_and_rebalance(ns: str) -> None:
    log = open_log("memory://")
    await log.create_stream(ns, "s", shards=4)
    handled: list[bytes] = []

    async def handle(record: StoredRecord) -> None:
        handled.append(record.data)

    def worker(name: str) -> GroupConsumer:
        return GroupConsumer(
            log,
            ns,
            "s",
            "g",
            name,
            handle,
            lease_seconds=0.6,
            heartbeat_seconds=0.1,
            wait_seconds=0.05,
        )

    a, b = worker("a"), worker("b")
    run_a = asyncio.create_task(a.run())
    await log.append(ns, "s", batch(0, 200))
    deadline = time.monotonic() + 5
    while a.shards != [0, 1, 2, 3] and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert a.shards == [0, 1, 2, 3]
    run_b = asyncio.create_task(b.run())
    deadline = time.monotonic() + 5
    while not (len(a.shards) == 2 and len(b.shards) == 2) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert sorted(a.shards + b.shards) == [0, 1, 2, 3]
    await log.append(ns, "s", batch(200, 200))
    b.stop()
    await run_b
    deadline = time.monotonic() + 5
    while (a.shards != [0, 1, 2, 3] or len(set(handled)) < 400) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    a.stop()
    await run_a
    assert {f"rec-{i}".encode() for i in range(400)} <= set(handled)
    checkpoints = await log.get_checkpoints(ns, "s", "g")
    assert sorted(checkpoints) == [0, 1, 2, 3]


async def test_checkpoint_past_the_end_restarts_from_the_start(
    ns: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = open_log(f"sqlite:///{tmp_path / 'aion.db'}")
    await log.open()
    try:
        await log.create_stream(ns, "s", shards=1)
        await log.append(ns, "s", batch(0, 3))
        assert await log.set_checkpoint(ns, "s", "g", 0, 3)
        # As an Aion that took checkpoints past a shard's end left them.
        with sqlite3.connect(tmp_path / "aion.db") as db:
            db.execute(f"UPDATE {CHECKPOINTS_TABLE} SET seq = 50")
        handled: list[bytes] = []

        async def handle(record: StoredRecord) -> None:
            handled.append(record.data)

        consumer = GroupConsumer(
            log, ns, "s", "g", "a", handle, lease_seconds=0.6, heartbeat_seconds=0.1
        )
        running = asyncio.create_task(consumer.run())
        deadline = time.monotonic() + 10
        while len(handled) < 3:
            assert not running.done() and time.monotonic() < deadline, handled
            await asyncio.sleep(0.02)
        consumer.stop()
        await running
        assert handled == [b"rec-0", b"rec-1", b"rec-2"]
        assert await log.get_checkpoints(ns, "s", "g") == {0: 3}
        assert "stream s group g shard 0: cannot read from AFTER_SEQUENCE_NUMBER 50" in caplog.text
    finally:
        await log.close()


def _start(url: str, ns: str, group: str, name: str, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.group_worker", url, ns, "s", group, name, str(out)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _handled(outs: list[Path]) -> set[str]:
    seen: set[str] = set()
    for out in outs:
        if out.exists():
            seen.update(line for line in out.read_text().splitlines() if line)
    return seen


def _shards(out: Path) -> set[int]:
    path = Path(str(out) + ".shards")
    text = path.read_text() if path.exists() else ""
    return {int(x) for x in text.split()}


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_killed_worker_shards_are_taken_over(backend: str, tmp_path: Path, ns: str) -> None:
    if backend == "redis":
        require("redis")
        url = f"{REDIS_URL}?prefix={unique('aiontest:')}"
    else:
        url = f"sqlite:///{tmp_path}/group.db"
    log = open_log(url)
    await log.open()
    await log.create_stream(ns, "s", shards=6)
    await log.append(ns, "s", batch(0, 300))
    outs = [tmp_path / f"w{i}.out" for i in range(3)]
    procs = [_start(url, ns, "g", f"w{i}", out) for i, out in enumerate(outs)]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            held = [_shards(o) for o in outs]
            if sum(map(len, held)) == 6 and all(held) and len(_handled(outs)) >= 300:
                break
            await asyncio.sleep(0.1)
        victim_shards = _shards(outs[0])
        assert victim_shards, "the worker to kill holds no shard"
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
        await log.append(ns, "s", batch(300, 300))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            survivors = _shards(outs[1]) | _shards(outs[2])
            if survivors == set(range(6)) and len(_handled(outs)) >= 600:
                break
            await asyncio.sleep(0.1)
        assert _handled(outs) >= {f"rec-{i}" for i in range(600)}
        assert victim_shards <= _shards(outs[1]) | _shards(outs[2])
        leases = await log.get_leases(ns, "s", "g")
        assert {lease.owner for lease in leases.values()} <= {"w1", "w2"}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=10)
        await log.delete_stream(ns, "s")
        await log.close()
