"""Export and import round trips against a live server, JSON lines and Parquet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aion.cli.main import app
from tests.client.transfer.conftest import (
    SECOND,
    fetch,
    read_jsonl,
    sample_events,
    seed,
    without_ids,
)

runner = CliRunner()


def test_jsonl_round_trip(url: str, tmp_path: Path) -> None:
    seed(url, "clicks", sample_events(12_345))
    original = fetch(url, "clicks")
    out = tmp_path / "clicks.jsonl"
    r = runner.invoke(app, ["export", "clicks", "-o", str(out), "--url", url])
    assert r.exit_code == 0, r.output
    assert "exported 12,345 events" in r.output
    assert read_jsonl(out) == original  # ids and all, in id order
    assert not list(tmp_path.glob("*.partial*"))

    r = runner.invoke(app, ["import", str(out), "--stream", "copy", "--url", url])
    assert r.exit_code == 0, r.output
    assert "imported 12,345 events into copy in 3 batches" in r.output
    copied = fetch(url, "copy")
    assert without_ids(copied) == without_ids(original)
    assert {e["@id"] for e in copied}.isdisjoint(e["@id"] for e in original)  # new ids
    assert not (tmp_path / "clicks.jsonl.import.state").exists()


def test_parquet_round_trip(url: str, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    seed(url, "clicks", sample_events(7_000))
    original = fetch(url, "clicks")
    out = tmp_path / "clicks.parquet"
    r = runner.invoke(app, ["export", "clicks", "-o", str(out), "--url", url])
    assert r.exit_code == 0, r.output
    table = pq.read_table(out)
    assert table.column_names == ["@id", "@time", "event"]
    assert str(table.schema.field("@time").type) == "int64"
    assert table.column("@id").to_pylist() == [e["@id"] for e in original]
    assert table.column("@time").to_pylist() == [e["@time"] for e in original]
    assert [json.loads(s) for s in table.column("event").to_pylist()] == original

    r = runner.invoke(app, ["import", str(out), "--url", url])  # stream from the file name
    assert r.exit_code == 0, r.output

    # Each event now twice, with equal @time: ties are ordered by their random id bytes.
    def canonical(events: list[dict[str, object]]) -> list[str]:
        return sorted(json.dumps(e, sort_keys=True) for e in without_ids(events))

    assert canonical(fetch(url, "clicks")) == canonical(original * 2)

    r = runner.invoke(app, ["import", str(out), "-s", "fresh", "--url", url])
    assert r.exit_code == 0, r.output
    assert without_ids(fetch(url, "fresh")) == without_ids(original)


def test_parquet_multiple_segments_are_merged(url: str, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    from aion.client import Client
    from aion.client.transfer import TransferFormat, export_stream

    seed(url, "s", sample_events(2_500))
    out = tmp_path / "s.parquet"
    with Client(url) as client:
        result = export_stream(
            client, "s", str(out), fmt=TransferFormat.PARQUET, start=None, end=None,
            start_time=0, end_time=2**62, checkpoint_events=1000,
        )  # fmt: skip
    assert result.complete and result.events == 2_500
    assert pq.ParquetFile(out).metadata.num_rows == 2_500
    assert [json.loads(s) for s in pq.read_table(out).column("event").to_pylist()] == fetch(
        url, "s"
    )
    assert not (tmp_path / "s.parquet.partial.d").exists()


def test_export_to_stdout_time_range_and_namespace(url: str, tmp_path: Path) -> None:
    seed(url, "s", sample_events(10), namespace="other")
    r = runner.invoke(
        app, ["export", "s", "--url", url, "-n", "other", "--start", "3", "--end", "5"]
    )
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [e["@time"] for e in lines] == [3 * SECOND, 4 * SECOND, 5 * SECOND]

    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(e) for e in lines) + "\n\n")
    r = runner.invoke(app, ["import", "-", "-s", "piped", "--url", url, "-n", "other"],
                      input=src.read_text())  # fmt: skip
    assert r.exit_code == 0, r.output
    assert without_ids(fetch(url, "piped", "other")) == without_ids(lines)
    assert fetch(url, "piped") == []


def test_parquet_to_stdout(url: str) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    seed(url, "s", sample_events(5))
    r = runner.invoke(app, ["export", "s", "--url", url, "--format", "parquet"])
    assert r.exit_code == 0, r.output
    table = pq.read_table(pa.BufferReader(r.stdout_bytes))
    assert table.num_rows == 5


def test_empty_stream_exports_empty_files(url: str, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    for name in ("empty.jsonl", "empty.parquet"):
        r = runner.invoke(app, ["export", "nothing", "-o", str(tmp_path / name), "--url", url])
        assert r.exit_code == 0, r.output
    assert (tmp_path / "empty.jsonl").read_bytes() == b""
    assert pq.read_table(tmp_path / "empty.parquet").num_rows == 0
    r = runner.invoke(app, ["import", str(tmp_path / "empty.parquet"), "--url", url])
    assert r.exit_code == 0, r.output
    assert "imported 0 events" in r.output


def test_events_without_time_get_the_import_time(url: str, tmp_path: Path) -> None:
    src = tmp_path / "t.jsonl"
    src.write_text('{"a": 1}\n{"a": 2, "@id": "not-kept"}\n')
    r = runner.invoke(app, ["import", str(src), "--url", url])
    assert r.exit_code == 0, r.output
    got = fetch(url, "t")
    assert sorted(e["a"] for e in got) == [1, 2]
    assert all(e["@id"] != "not-kept" and e["@time"] > 0 for e in got)
