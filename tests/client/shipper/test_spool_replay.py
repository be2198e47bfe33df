"""A spooled batch survives its replay until it is settled, even a kill -9 mid-replay."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from aion.client.shipper.buffer import Batch
from aion.client.shipper.spool import Spool
from tests.support.paths import ROOT


def _batches() -> list[Batch]:
    return [Batch(f"b{i}", "", (b'{"n":%d}' % i, b'{"m":%d}' % i)) for i in range(3)]


def test_a_claimed_file_goes_only_when_every_batch_is_released(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "s")
    spool.append(_batches())
    claimed = spool.claim()
    assert [b.batch_id for b in claimed] == ["b0", "b1", "b2"]
    assert all(b.replayed for b in claimed)
    assert not spool.path.exists()
    (held,) = list(tmp_path.glob("s.*.replaying"))
    spool.release("b0")
    spool.release("b2")
    spool.release("unknown")  # a batch that never came from a claimed file: nothing happens
    assert held.exists()
    spool.release("b1")
    assert not held.exists()
    assert Spool(tmp_path, "s").claim() == []


def test_an_empty_spool_file_is_removed_at_claim(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "s")
    tmp_path.mkdir(exist_ok=True)
    spool.path.write_bytes(b"")
    assert spool.claim() == []
    assert list(tmp_path.iterdir()) == []


_REPLAYER = """
import sys, time
from aion.client.shipper import Shipper, ShipperConfig, RetryPolicy
shipper = Shipper(ShipperConfig(
    url=sys.argv[1], spool_dir=sys.argv[2], spool_name="s",
    retry=RetryPolicy(max_attempts=1000, base=0.05, cap=0.05, max_elapsed=1000),
))
print("replaying", flush=True)
time.sleep(60)
"""


def test_kill_9_mid_replay_loses_nothing(tmp_path: Path) -> None:
    Spool(tmp_path, "s").append(_batches())
    with socket.socket() as probe:  # a port nobody listens on: every send fails and retries
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    proc = subprocess.Popen(
        [sys.executable, "-c", _REPLAYER, url, str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"replaying"
        time.sleep(0.3)  # a few failed attempts
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    # The next start finds the dead process's claim and replays every batch, with its id.
    replayed = Spool(tmp_path, "s").claim()
    assert sorted(b.batch_id for b in replayed) == ["b0", "b1", "b2"]
    assert sorted(p for b in replayed for p in b.payloads) == sorted(
        p for b in _batches() for p in b.payloads
    )


def test_the_spool_keeps_what_fits_under_its_cap(tmp_path: Path) -> None:
    batches = _batches()
    one_line = len(Spool._line(batches[0]))
    spool = Spool(tmp_path, "s", max_bytes=2 * one_line + 5)
    assert spool.append(batches[:1]) == []
    refused = spool.append(batches[1:])
    assert [b.batch_id for b in refused] == ["b2"]  # b1 fits, b2 would pass the cap
    assert spool.path.stat().st_size <= 2 * one_line + 5
    assert [b.batch_id for b in spool.claim()] == ["b0", "b1"]


def test_a_full_spool_counts_the_rest_lost(tmp_path: Path) -> None:
    from aion.client.shipper import RetryPolicy, Shipper, ShipperConfig
    from aion.errors import ConfigurationError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    config = ShipperConfig(
        url=url,
        spool_dir=tmp_path,
        spool_max_bytes=4_000,
        max_batch_events=10,
        retry=RetryPolicy(max_attempts=1),
    )
    shipper = Shipper(config)
    for i in range(200):
        shipper.put({"n": i, "pad": "x" * 50})
    shipper.close()
    counters = shipper.counters
    assert counters.spilled > 0 and counters.dropped > 0  # lost batches count as dropped
    assert counters.spilled + counters.dropped == 200
    assert (tmp_path / "aion-shipper.jsonl").stat().st_size <= 4_000
    try:
        ShipperConfig(url=url, spool_max_bytes=0)
    except ConfigurationError as exc:
        assert "spool_max_bytes" in str(exc)
    else:
        raise AssertionError("spool_max_bytes=0 was accepted")
