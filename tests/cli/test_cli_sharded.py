"""``aion put -s`` / ``get -s`` as Triton's README runs them, ``aion streams create|describe|
delete|list``, and ``aion get`` showing a sharded stream's records decoded."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from typer.testing import CliRunner

from aion.cli import streams as cli_streams
from aion.cli.main import app
from aion.client.streams import StreamsClient
from aion.server.app import create_app
from aion.server.config import AionConfig
from tests.support.live import serve

runner = CliRunner()
DEAD = "http://127.0.0.1:9"


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("AION_URL", "AION_API_KEY", "AION_NAMESPACE", "TRITON_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    with serve(create_app(AionConfig.for_data_dir(tmp_path))) as base:
        yield base


def _all_records(url: str, stream: str) -> list[Any]:
    with StreamsClient(url) as client:
        out = []
        for shard in client.describe_stream(stream).shards:
            it = client.iterator(stream, shard.shard, "TRIM_HORIZON")
            out += client.read(stream, it).records
    return out


def test_readme_demo_put_creates_the_stream(url: str) -> None:
    # Triton's README: `echo 'hi' | triton put -s test_stream`, with no stream made first.
    r = runner.invoke(app, ["put", "-s", "test_stream"], input="hi\n", env={"AION_URL": url})
    assert r.exit_code == 0, r.output
    with StreamsClient(url) as client:
        assert len(client.describe_stream("test_stream").shards) == 4  # default_stream_shards
    [record] = _all_records(url, "test_stream")
    assert msgpack.unpackb(record.data)["msg"] == "hi\n"


def test_put_shards_option(url: str) -> None:
    r = runner.invoke(app, ["put", "-s", "two", "--shards", "2", "--url", url], input="a\n")
    assert r.exit_code == 0, r.output
    with StreamsClient(url) as client:
        assert len(client.describe_stream("two").shards) == 2
    r = runner.invoke(app, ["put", "-s", "two", "--shards", "3", "--url", url], input="a\n")
    assert r.exit_code == 2 and "exists with 2 shards" in r.output
    r = runner.invoke(app, ["put", "events", "--shards", "3", "--url", url], input="{}\n")
    assert r.exit_code == 2 and "use them with -s" in r.output


def test_config_url_and_api_key_are_honoured(url: str, tmp_path: Path) -> None:
    config = tmp_path / "triton.yaml"
    config.write_text(f"my_stream:\n  name: real_name\n  partition_key: msg\n  url: {url}\n")
    # $AION_URL points nowhere: the alias's url wins over it.
    env = {"AION_URL": DEAD}
    r = runner.invoke(app, ["put", "-s", "my_stream", "-c", str(config)], input="a\n", env=env)
    assert r.exit_code == 0, r.output
    env = {"AION_URL": DEAD, "TRITON_CONFIG": str(config)}
    r = runner.invoke(app, ["put", "-s", "my_stream"], input="b\nc\n", env=env)
    assert r.exit_code == 0, r.output
    assert len(_all_records(url, "real_name")) == 3
    # An explicit --url comes before the config's.
    r = runner.invoke(
        app, ["put", "-s", "my_stream", "-c", str(config), "--url", DEAD], input="d\n"
    )
    assert r.exit_code == 2
    # The demo writes {msg, ts}: another partition key is a clear error, not a traceback.
    config.write_text(f"my_stream:\n  name: real_name\n  partition_key: value\n  url: {url}\n")
    r = runner.invoke(app, ["put", "-s", "my_stream", "-c", str(config)], input="a\n")
    assert r.exit_code == 2 and "partitioned by 'value'" in r.output


def test_get_dash_d_takes_triton_syntax(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    def record_call(stream: str, shard_nums: Any, *args: Any, **kwargs: Any) -> int:
        seen.append((stream, shard_nums))
        return 0

    monkeypatch.setattr(cli_streams, "get_records", record_call)
    for argv in (["-s", "S", "-d", "0", "1"], ["-s", "S", "-d", "0", "-d", "1"]):
        r = runner.invoke(app, ["get", *argv, "--url", url])
        assert r.exit_code == 0, r.output
    assert seen == [("S", [0, 1]), ("S", [0, 1])]
    r = runner.invoke(app, ["get", "-s", "S", "-d", "0", "x", "--url", url])
    assert r.exit_code == 2 and "unexpected argument 'x'" in r.output


def test_get_dash_d_unknown_shard_is_an_error(url: str) -> None:
    runner.invoke(app, ["put", "-s", "S", "--shards", "2", "--url", url], input="a\n")
    r = runner.invoke(app, ["get", "-s", "S", "-d", "0", "5", "--url", url])
    assert r.exit_code == 2 and "no shard number 5" in r.output


def test_streams_create_describe_list_delete(url: str) -> None:
    r = runner.invoke(app, ["streams", "create", "orders", "--shards", "2", "--url", url])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("orders: 2 shards in namespace default, records kept forever")
    runner.invoke(app, ["put", "-s", "orders", "--url", url], input="a\n")
    r = runner.invoke(app, ["streams", "describe", "orders", "--url", url])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and "shardId-000000000001" in lines[2]
    assert sum("sequences 1..1" in line for line in lines) == 1
    assert sum(" empty " in line for line in lines) == 1
    r = runner.invoke(app, ["streams", "list", "--url", url])
    assert r.stdout.splitlines() == ["orders"]
    r = runner.invoke(app, ["streams", "delete", "orders", "--url", url])
    assert r.exit_code == 0 and r.stdout == "deleted orders\n"
    for argv in (["describe", "orders"], ["delete", "orders"]):
        r = runner.invoke(app, ["streams", *argv, "--url", url])
        assert r.exit_code == 2 and "no stream 'orders'" in r.output
    r = runner.invoke(app, ["streams", "create", "bad", "--shards", "0", "--url", url])
    assert r.exit_code == 2
    # With no command, `aion streams` still lists the event streams.
    runner.invoke(app, ["put", "clicks", "--url", url], input='{"a": 1}\n')
    r = runner.invoke(app, ["streams", "--url", url])
    assert r.exit_code == 0 and "clicks" in r.stdout.splitlines()


def test_get_shows_records_decoded(url: str) -> None:
    records = [
        {"partition_key": "a", "data": {"n": 1}},
        {"partition_key": "b", "data_base64": base64.b64encode(msgpack.packb({"n": 2})).decode()},
        {"partition_key": "c", "data_base64": base64.b64encode(b"\xffraw").decode()},
    ]
    with StreamsClient(url) as client:
        client.create_stream("mixed")
        for record in records:  # one put each: distinct arrival times keep the order
            client.put_many("mixed", [_pair(record)])
    r = runner.invoke(app, ["get", "mixed", "--start", "-1h", "--url", url])
    assert r.exit_code == 0, r.output
    shown = [json.loads(line) for line in r.stdout.splitlines()]
    by_key = {e["partition_key"]: e for e in shown}
    assert by_key["a"]["data"] == {"n": 1}
    assert by_key["b"]["data"] == {"n": 2}
    assert by_key["c"]["data_base64"] == base64.b64encode(b"\xffraw").decode()
    r = runner.invoke(app, ["get", "mixed", "--start", "-1h", "--raw", "--url", url])
    raw = {e["partition_key"]: e for e in map(json.loads, r.stdout.splitlines())}
    assert base64.b64decode(raw["b"]["data"]) == msgpack.packb({"n": 2})


def _pair(record: dict[str, Any]) -> tuple[str, bytes]:
    if "data" in record:
        return record["partition_key"], json.dumps(record["data"]).encode()
    return record["partition_key"], base64.b64decode(record["data_base64"])
