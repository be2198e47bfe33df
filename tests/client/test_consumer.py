"""ConsumerGroupWorker against a live server: a checkpoint it cannot use does not end it."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aion.client.streams import ConsumerGroupWorker, StreamRecord, StreamsClient
from aion.server.app import create_app
from aion.server.config import AionConfig
from aion.storage.schema import CHECKPOINTS_TABLE
from tests.support.live import serve


def _corrupt_checkpoints(data_dir: Path, sequence: int) -> None:
    """Move every stored checkpoint to ``sequence`` behind the server's back, as an Aion that
    took checkpoints past a shard's end left them."""
    with sqlite3.connect(data_dir / "aion.db") as db:
        assert db.execute(f"UPDATE {CHECKPOINTS_TABLE} SET seq = ?", (sequence,)).rowcount == 1


@pytest.mark.parametrize("start", ["TRIM_HORIZON", "LATEST"])
def test_checkpoint_past_the_end_restarts_from_the_start_position(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, start: str
) -> None:
    caplog.set_level(logging.WARNING, logger="aion.client.consumer")
    with serve(create_app(AionConfig.for_data_dir(tmp_path))) as url, StreamsClient(url) as c:
        c.create_stream("clicks", shards=1)
        c.put_many("clicks", [("k", b"old-1"), ("k", b"old-2"), ("k", b"old-3")])
        assert c.set_checkpoint("clicks", "billing", 0, 3, expected=0)
        _corrupt_checkpoints(tmp_path, 50)
        assert c.get_checkpoints("clicks", "billing") == {0: 50}
        seen: list[bytes] = []
        worker: ConsumerGroupWorker

        def handle(record: StreamRecord) -> None:
            seen.append(record.data)
            if record.data == b"new":
                worker.stop()

        worker = ConsumerGroupWorker(
            c, "clicks", "billing", "w1", handle, lease_seconds=3, wait_seconds=0.2, start=start
        )
        thread = threading.Thread(target=worker.run)
        thread.start()
        deadline = time.monotonic() + 20
        while not worker.shards:  # joined, and the shard's iterator is made
            assert thread.is_alive() and time.monotonic() < deadline, "the worker died"
            time.sleep(0.02)
        c.put("clicks", "k", b"new")
        thread.join(20)
        assert not thread.is_alive()
        old = [b"old-1", b"old-2", b"old-3"] if start == "TRIM_HORIZON" else []
        assert seen == [*old, b"new"]
        assert c.get_checkpoints("clicks", "billing") == {0: 4}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "stream clicks group billing shard 0" in m and "checkpoint 50" in m and start in m
        for m in warnings
    ), warnings


def test_three_http_workers_joining_deliver_every_record_once(tmp_path: Path) -> None:
    # Workers join one after another while records flow; shards move between them by claim
    # and hand-over, so with nobody crashing no record is handled twice.
    total = 3000
    seen: dict[bytes, int] = {}
    lock = threading.Lock()

    def handle(record: StreamRecord) -> None:
        with lock:
            seen[record.data] = seen.get(record.data, 0) + 1
        time.sleep(0.0005)  # a handler doing some work: batches take a while

    def until(check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 90
        while not check():
            assert time.monotonic() < deadline, f"not reached: {what}"
            time.sleep(0.02)

    with serve(create_app(AionConfig.for_data_dir(tmp_path))) as url, StreamsClient(url) as c:
        c.create_stream("clicks", shards=8)
        workers = [
            ConsumerGroupWorker(
                StreamsClient(url),
                "clicks",
                "g",
                f"w{i}",
                handle,
                lease_seconds=6,
                batch=20,
                wait_seconds=0.1,
            )
            for i in range(3)
        ]
        threads = [threading.Thread(target=w.run) for w in workers]
        try:
            for i, (worker, thread) in enumerate(zip(workers, threads, strict=True)):
                thread.start()
                c.put_many(
                    "clicks", [(f"k{n % 61}", b"r%d" % n) for n in range(i * 500, i * 500 + 500)]
                )
                until(lambda w=worker: bool(w.shards), f"w{i} holds a shard")  # type: ignore[misc]
            for start in range(1500, total, 500):
                c.put_many(
                    "clicks", [(f"k{n % 61}", b"r%d" % n) for n in range(start, start + 500)]
                )
            until(lambda: len(seen) == total, "every record handled")
            until(lambda: sorted(len(w.shards) for w in workers) == [2, 3, 3], "balanced")
        finally:
            for worker in workers:
                worker.stop()
            for thread in threads:
                thread.join(30)
            for worker in workers:
                worker.client.close()
    twice = [data for data, n in seen.items() if n > 1]
    assert len(seen) == total and not twice, f"{len(twice)} records delivered more than once"
