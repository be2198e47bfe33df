"""The ``aion`` command against a live server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aion.cli.main import app
from aion.server.app import create_app
from aion.server.config import AionConfig
from tests.support.live import serve

runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with serve(create_app(AionConfig.for_data_dir(tmp_path))) as base:
        yield base


def test_put_get_streams_schema_delete(url: str) -> None:
    lines = "\n".join(json.dumps({"n": i, "@time": 10_000_000 * (i + 1)}) for i in range(5))
    r = runner.invoke(app, ["put", "clicks", "--url", url], input=lines + "\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["get", "clicks", "--url", url, "--start", "0", "--end", "3"])
    assert r.exit_code == 0, r.output
    got = [json.loads(line) for line in r.stdout.splitlines()]
    assert [e["n"] for e in got] == [0, 1, 2]
    r = runner.invoke(app, ["get", "clicks", "--url", url, "--order", "descending",
                            "--limit", "2", "--start", "1970-01-01T00:00:00Z"])  # fmt: skip
    assert [json.loads(x)["n"] for x in r.stdout.splitlines()] == [4, 3]
    r = runner.invoke(app, ["streams", "--url", url])
    assert r.stdout.split() == ["clicks"]
    r = runner.invoke(app, ["schema", "clicks", "--url", url])
    assert json.loads(r.stdout)["properties"]["n"] == {"type": "integer"}
    r = runner.invoke(app, ["delete", "clicks", "--url", url, "--start", "1", "--end", "2"])
    assert "sqlite: 2 deleted" in r.stdout
    r = runner.invoke(app, ["get", "clicks", "--url", url, "--start", "-100y"])
    assert r.exit_code == 2
    assert "--start" in r.output


def test_namespace_option(url: str) -> None:
    runner.invoke(app, ["put", "s", "--url", url, "-n", "other"], input='{"a": 1}\n')
    r = runner.invoke(app, ["get", "s", "--url", url, "-n", "other", "--start", "-1h"])
    assert len(r.stdout.splitlines()) == 1
    r = runner.invoke(app, ["get", "s", "--url", url, "--start", "-1h"])
    assert r.stdout == ""


def test_bad_line_names_the_line(url: str) -> None:
    r = runner.invoke(app, ["put", "s", "--url", url], input='{"a": 1}\nnot json\n')
    assert r.exit_code == 2
    assert "line 2" in r.output


def test_server_down_is_a_clear_error() -> None:
    r = runner.invoke(app, ["streams", "--url", "http://127.0.0.1:9"])
    assert r.exit_code == 2
    assert "cannot reach" in r.output


def test_relative_times_parse(url: str) -> None:
    runner.invoke(app, ["put", "now", "--url", url], input='{"a": 1}\n')
    r = runner.invoke(app, ["get", "now", "--url", url, "--start", "-10m", "--end", "now"])
    assert len(r.stdout.splitlines()) == 1


def test_triton_put_dash_s_appends_each_line(url: str) -> None:
    from aion.client.streams import StreamsClient

    with StreamsClient(url) as streams:
        streams.create_stream("orders", shards=2)
        r = runner.invoke(app, ["put", "-s", "orders", "--url", url], input="a\nb\nc\n")
        assert r.exit_code == 0, r.output
        got = []
        for shard in range(2):
            it = streams.iterator("orders", shard, "TRIM_HORIZON")
            got += streams.read("orders", it).records
    assert len(got) == 3


def test_api_key_option(tmp_path: Path) -> None:
    with serve(create_app(AionConfig.for_data_dir(tmp_path))) as base:
        made = runner.invoke(
            app,
            ["keys", "create", "--data", str(tmp_path), "--namespace", "default",
             "--scopes", "read,write"],
        )  # fmt: skip
        assert made.exit_code == 0, made.output
        key = made.stdout.strip().splitlines()[-1]
        time.sleep(1.1)  # servers pick up new keys within a second
        refused = runner.invoke(app, ["put", "s", "--url", base], input='{"a": 1}\n')
        assert refused.exit_code == 2
        assert "401" in refused.output
        ok = runner.invoke(app, ["put", "s", "--url", base, "--api-key", key], input='{"a": 1}\n')
        assert ok.exit_code == 0, ok.output
        got = runner.invoke(
            app, ["get", "s", "--url", base, "--start", "-1h"], env={"AION_API_KEY": key}
        )
        assert len(got.stdout.splitlines()) == 1
