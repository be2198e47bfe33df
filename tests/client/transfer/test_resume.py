"""Interrupted exports and imports continue where they stopped, with nothing lost or doubled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aion.cli.main import app
from aion.client import Client
from aion.client.transfer import (
    IngestSender,
    TransferFormat,
    TransferProgress,
    export_stream,
    import_file,
)
from aion.client.transfer import importer as importer_module
from tests.client.transfer.conftest import fetch, read_jsonl, sample_events, seed, without_ids
from tests.support.paths import ROOT

runner = CliRunner()
_ENV = os.environ | {"PYTHONPATH": str(ROOT / "src")}


class _Crash(Exception):
    """The process dying between an acknowledgement and its state write."""


def _stop_after(events: int) -> tuple[threading.Event, object]:
    stop = threading.Event()

    def report(progress: TransferProgress) -> None:
        if progress.events >= events:
            stop.set()

    return stop, report


@pytest.mark.parametrize("fmt", [TransferFormat.JSONL, TransferFormat.PARQUET])
def test_stopped_export_resumes_after_the_last_id(
    url: str, tmp_path: Path, fmt: TransferFormat
) -> None:
    if fmt is TransferFormat.PARQUET:
        pytest.importorskip("pyarrow")
    seed(url, "s", sample_events(10_000))
    original = fetch(url, "s")
    out = tmp_path / f"s.{fmt.value}"
    stop, report = _stop_after(3_000)
    with Client(url) as client:
        first = export_stream(
            client, "s", str(out), fmt=fmt, start=None, end=None, start_time=0,
            end_time=2**62, checkpoint_events=700, stop=stop, on_progress=report,  # type: ignore[arg-type]
        )  # fmt: skip
        assert not first.complete and 3_000 <= first.events < 10_000
        assert not out.exists()
        state = json.loads((tmp_path / f"s.{fmt.value}.partial.state").read_text())
        assert state["events"] == first.events
        assert state["last_id"] == original[first.events - 1]["@id"]
        second = export_stream(
            client, "s", str(out), fmt=fmt, start=None, end=None, start_time=0,
            end_time=2**62, checkpoint_events=700,
        )  # fmt: skip
    assert second.complete and second.events == 10_000 and second.resumed_from == first.events
    if fmt is TransferFormat.JSONL:
        assert read_jsonl(out) == original
    else:
        import pyarrow.parquet as pq

        assert [json.loads(e) for e in pq.read_table(out).column("event").to_pylist()] == original
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("s.")) == [out.name]


def _export_command(url: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "aion", "export", "big", "-o", str(out), "--url", url,
            "--checkpoint-every", "5000"]  # fmt: skip


def _wait_for_checkpoint(state: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if state.exists() and json.loads(state.read_text() or "{}").get("events", 0) >= 10_000:
            return
        time.sleep(0.005)
    raise AssertionError("the export made no checkpoint")


def test_killed_export_process_resumes(url: str, tmp_path: Path) -> None:
    """SIGKILL mid-export: the re-run cuts what followed the last checkpoint and continues."""
    seed(url, "big", sample_events(40_000))
    out = tmp_path / "big.jsonl"
    state = tmp_path / "big.jsonl.partial.state"
    command = _export_command(url, out)
    child = subprocess.Popen(command, env=_ENV, stderr=subprocess.DEVNULL)
    _wait_for_checkpoint(state)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    recorded = json.loads(state.read_text())
    assert 0 < recorded["events"] < 40_000 and not out.exists()
    done = subprocess.run(command, env=_ENV, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"({recorded['events']:,} by an earlier run)".encode() in done.stderr
    assert read_jsonl(out) == fetch(url, "big")


def test_sigint_stops_at_a_checkpoint_and_exits_130(url: str, tmp_path: Path) -> None:
    seed(url, "big", sample_events(40_000))
    out = tmp_path / "big.jsonl"
    command = _export_command(url, out)
    child = subprocess.Popen(command, env=_ENV, stderr=subprocess.PIPE)
    _wait_for_checkpoint(tmp_path / "big.jsonl.partial.state")
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 130, err
    assert b"run the same command to continue" in err
    state = json.loads((tmp_path / "big.jsonl.partial.state").read_text())
    assert 0 < state["events"] < 40_000
    assert (tmp_path / "big.jsonl.partial").stat().st_size == state["bytes"]
    done = subprocess.run(command, env=_ENV, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert read_jsonl(out) == fetch(url, "big")


def _write_jsonl(path: Path, count: int) -> list[dict[str, object]]:
    events = sample_events(count)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return events  # type: ignore[return-value]


def test_stopped_import_resumes_from_the_recorded_offset(url: str, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    events = _write_jsonl(src, 10_000)
    stop, report = _stop_after(3_000)
    with IngestSender(url, "s") as sender:
        first = import_file(
            sender, str(src), url=url, namespace=None, stream="s", fmt=TransferFormat.JSONL,
            batch_size=1000, stop=stop, on_progress=report,  # type: ignore[arg-type]
        )  # fmt: skip
    assert not first.complete and first.events == 3_000 and first.batches == 3
    state = json.loads((tmp_path / "in.jsonl.import.state").read_text())
    assert state["line"] == 3_000 and state["offset"] == len(
        "".join(json.dumps(e) + "\n" for e in events[:3000]).encode()
    )
    r = runner.invoke(app, ["import", str(src), "-s", "s", "--batch-size", "1000", "--url", url])
    assert r.exit_code == 0, r.output
    assert without_ids(fetch(url, "s")) == events
    assert not (tmp_path / "in.jsonl.import.state").exists()


@pytest.mark.parametrize("fmt", [TransferFormat.JSONL, TransferFormat.PARQUET])
def test_a_batch_sent_again_after_a_lost_ack_is_stored_once(
    url: str, tmp_path: Path, fmt: TransferFormat, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crash window: the server stored batch 3, the state was not written; the re-run
    sends batch 3 again with the same id and the server drops the duplicate."""
    if fmt is TransferFormat.PARQUET:
        pytest.importorskip("pyarrow")
    seed(url, "orig", sample_events(5_000))
    src = tmp_path / f"in.{fmt.value}"
    assert runner.invoke(app, ["export", "orig", "-o", str(src), "--url", url]).exit_code == 0
    real_write = importer_module.write_state
    calls = 0

    def crash_on_third(path: str, state: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise _Crash
        real_write(path, state)  # type: ignore[arg-type]

    monkeypatch.setattr(importer_module, "write_state", crash_on_third)
    with pytest.raises(_Crash):
        runner.invoke(app, ["import", str(src), "-s", "s", "--batch-size", "1000",
                            "--url", url], catch_exceptions=False)  # fmt: skip
    assert len(fetch(url, "s")) == 3_000  # batch 3 is stored, the state says 2
    monkeypatch.setattr(importer_module, "write_state", real_write)
    r = runner.invoke(app, ["import", str(src), "-s", "s", "--batch-size", "1000", "--url", url])
    assert r.exit_code == 0, r.output
    assert "(1 batch was already stored)" in r.output
    assert without_ids(fetch(url, "s")) == without_ids(fetch(url, "orig"))


def test_resume_refuses_a_changed_file_or_other_options(url: str, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    events = _write_jsonl(src, 3_000)
    stop, report = _stop_after(1_000)
    with IngestSender(url, "s") as sender:
        import_file(
            sender, str(src), url=url, namespace=None, stream="s", fmt=TransferFormat.JSONL,
            batch_size=500, stop=stop, on_progress=report,  # type: ignore[arg-type]
        )  # fmt: skip
    args = ["import", str(src), "-s", "s", "--batch-size", "500", "--url", url]
    r = runner.invoke(app, ["import", str(src), "-s", "other", "--batch-size", "500",
                            "--url", url])  # fmt: skip
    assert r.exit_code == 2 and "belongs to a different import" in r.output
    assert "'s' → 'other'" in r.output
    # An edit after the imported part is fine (a fixed line); one before it is not.
    text = src.read_text()
    src.write_text(text.replace('"n": 10,', '"n": 10000,', 1))
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "changed in the part already imported" in r.output
    src.write_text(text)
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert without_ids(fetch(url, "s")) == events
    # --restart imports everything again; the same batches are dropped as duplicates
    r = runner.invoke(app, [*args, "--restart"])
    assert r.exit_code == 0 and "(6 batches were already stored)" in r.output
    assert len(fetch(url, "s")) == 3_000


def test_export_resume_refuses_other_options(url: str, tmp_path: Path) -> None:
    seed(url, "s", sample_events(3_000))
    out = tmp_path / "s.jsonl"
    stop, report = _stop_after(1_000)
    with Client(url) as client:
        export_stream(
            client, "s", str(out), fmt=TransferFormat.JSONL, start="-100y", end=None,
            start_time=0, end_time=2**62, checkpoint_events=500, stop=stop,
            on_progress=report,  # type: ignore[arg-type]
        )  # fmt: skip
    r = runner.invoke(app, ["export", "s", "-o", str(out), "--url", url])
    assert r.exit_code == 2 and "belongs to a different export" in r.output
    assert "start: '-100y' → None" in r.output
    r = runner.invoke(app, ["export", "s", "-o", str(out), "--url", url, "--restart"])
    assert r.exit_code == 0, r.output
    assert read_jsonl(out) == fetch(url, "s")
