"""Bad input and failures: a clear message, exit status 2, and a report of what was sent."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import Result
from typer.testing import CliRunner

from aion.cli.main import app
from aion.client import sync as sync_module
from aion.client.transfer import ingest as ingest_module
from tests.client.transfer.conftest import fetch, sample_events

runner = CliRunner()


def said(result: Result) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def test_a_bad_line_is_named_and_its_batch_is_not_sent(url: str, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = [json.dumps(e) for e in sample_events(25)]
    lines[21] = '{"broken": '
    src.write_text("\n".join(lines) + "\n")
    r = runner.invoke(app, ["import", str(src), "-s", "s", "--batch-size", "10", "--url", url])
    assert r.exit_code == 2
    assert "line 22: not valid JSON" in said(r)
    assert "20 events in 2 batches were imported, through line 20" in said(r)
    assert len(fetch(url, "s")) == 20
    lines[21] = json.dumps(sample_events(1, first=21)[0])  # fixed: the re-run continues
    src.write_text("\n".join(lines) + "\n")
    r = runner.invoke(app, ["import", str(src), "-s", "s", "--batch-size", "10", "--url", url])
    assert r.exit_code == 0, r.output
    assert [e["n"] for e in fetch(url, "s")] == list(range(25))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1, 2]", "line 2: an event must be a JSON object, not list"),
        ('{"@time": 1.5}', "line 2: @time must be an integer"),
        ('{"@time": true}', "line 2: @time must be an integer"),
    ],
)
def test_events_the_server_would_refuse(url: str, tmp_path: Path, line: str, message: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"a": 1}\n' + line + "\n")
    r = runner.invoke(app, ["import", str(src), "-s", "s", "--url", url])
    assert r.exit_code == 2
    assert message in said(r)
    assert fetch(url, "s") == []


def test_unknown_format_and_unreadable_file(url: str, tmp_path: Path) -> None:
    r = runner.invoke(app, ["export", "s", "--format", "csv", "--url", url])
    assert r.exit_code == 2 and "unknown format 'csv'" in said(r)
    r = runner.invoke(app, ["import", str(tmp_path / "missing.jsonl"), "--url", url])
    assert r.exit_code == 2 and "cannot read" in said(r) and "missing.jsonl" in said(r)
    r = runner.invoke(app, ["import", str(tmp_path), "-s", "s", "--url", url])
    assert r.exit_code == 2 and "cannot read" in said(r)
    r = runner.invoke(app, ["import", "-", "--url", url], input="{}\n")
    assert r.exit_code == 2 and "--stream is required" in said(r)
    r = runner.invoke(app, ["import", "-", "-s", "s", "-f", "parquet", "--url", url])
    assert r.exit_code == 2 and "Parquet cannot be read from standard input" in said(r)


def test_not_a_parquet_file(url: str, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    junk = tmp_path / "junk.parquet"
    junk.write_text('{"a": 1}\n')
    r = runner.invoke(app, ["import", str(junk), "--url", url])
    assert r.exit_code == 2 and "is not a readable Parquet file" in said(r)
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), other)
    r = runner.invoke(app, ["import", str(other), "--url", url])
    assert r.exit_code == 2 and "no string column 'event'" in said(r) and "x" in said(r)
    nulls = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"event": ['{"a": 1}', None, "[]"]}), nulls)
    r = runner.invoke(app, ["import", str(nulls), "--url", url])
    assert r.exit_code == 2 and "row 2: an event must be a JSON object" in said(r)


def test_missing_pyarrow_names_the_extra(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    r = runner.invoke(app, ["export", "s", "-o", str(tmp_path / "s.parquet"), "--url", url])
    assert r.exit_code == 2
    assert "pip install 'aion[parquet]'" in said(r)
    assert not list(tmp_path.glob("s.parquet*"))  # failed before writing anything


def test_server_errors_are_clear(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The retries' pauses would take seconds; the decisions are what is under test here.
    quick = SimpleNamespace(sleep=lambda s: None, monotonic=time.monotonic, time=time.time)
    monkeypatch.setattr(sync_module, "time", quick)
    monkeypatch.setattr(ingest_module, "time", quick)
    r = runner.invoke(app, ["export", "s", "--url", "http://127.0.0.1:9"])
    assert r.exit_code == 2 and "failed after 10 retries" in said(r)
    assert "Connection refused" in said(r)
    src = tmp_path / "in.jsonl"
    src.write_text('{"a": 1}\n')
    r = runner.invoke(app, ["import", str(src), "-s", "s", "--url", "http://127.0.0.1:9"])
    assert r.exit_code == 2 and "cannot reach http://127.0.0.1:9" in said(r)
    assert "gave up after 8 attempts" in said(r)
    r = runner.invoke(app, ["export", "bad name!", "--url", url])
    assert r.exit_code == 2 and "stream 'bad name!'" in said(r)
    r = runner.invoke(app, ["import", str(src), "-s", "s", "--url", f"{url}/nowhere"])
    assert r.exit_code == 2 and "HTTP 404" in said(r)
    assert "0 events in 0 batches were imported" in said(r)


def test_an_unwritable_output_is_clear(url: str, tmp_path: Path) -> None:
    r = runner.invoke(app, ["export", "s", "-o", str(tmp_path / "no" / "s.jsonl"), "--url", url])
    assert r.exit_code == 2 and "cannot" in said(r)
