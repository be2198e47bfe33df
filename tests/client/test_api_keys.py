"""Every client, compat layer and CLI command sends an API key, against one live server that
has keys: without the key the server's 401 comes back as a clear error, with it the call
works."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aion import (
    AsyncShipper,
    AsyncStreamsClient,
    AsyncTimeseriesClient,
    Client,
    ConsumerGroupWorker,
    ResponseError,
    Shipper,
    ShipperConfig,
    StreamsClient,
    TimeseriesClient,
)
from aion.cli import streams as cli_streams
from aion.cli.main import app as cli_app
from aion.client.streams import StreamRecord
from aion.compat import samsara, triton
from aion.compat.pykronos.client import KronosClient
from aion.server.app import create_app
from tests.support.keys import Keys, make_keys, memory_config
from tests.support.live import serve

runner = CliRunner()


@dataclass(frozen=True)
class Keyed:
    """A live server that has API keys."""

    url: str
    keys: Keys


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    data = tmp_path_factory.mktemp("keyed")
    keys = make_keys(data)
    with serve(create_app(memory_config(data))) as url:
        yield Keyed(url, keys)


@pytest.fixture
def name() -> str:
    return "s" + uuid.uuid4().hex[:10]


def _refused(caught: pytest.ExceptionInfo[ResponseError]) -> None:
    assert caught.value.status == 401
    assert "API key" in str(caught.value) and "[HTTP 401]" in str(caught.value)


def _wait_for(condition: object, what: str, seconds: float = 30.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_events_client(keyed: Keyed, name: str) -> None:
    with Client(keyed.url) as anonymous, pytest.raises(ResponseError) as caught:
        anonymous.put({name: [{"a": 1}]})
    _refused(caught)
    with Client(keyed.url, api_key=keyed.keys.rw) as client:
        client.put({name: [{"a": 1}]})
        assert [e["a"] for e in client.get(name, 0, "now")] == [1]


def test_streams_client(keyed: Keyed, name: str) -> None:
    with StreamsClient(keyed.url, namespace="other") as anonymous:
        with pytest.raises(ResponseError) as caught:
            anonymous.create_stream(name)
        _refused(caught)
    with StreamsClient(keyed.url, namespace="other", api_key=keyed.keys.wrong) as wrong:
        with pytest.raises(ResponseError) as caught:
            wrong.list_streams()
        _refused(caught)
    with StreamsClient(keyed.url, namespace="other", api_key=keyed.keys.other) as client:
        client.create_stream(name)
        placed = client.put(name, "k", b"hello")
        iterator = client.iterator(name, placed.shard, "TRIM_HORIZON")
        assert [r.data for r in client.read(name, iterator).records] == [b"hello"]


async def test_async_streams_client(keyed: Keyed, name: str) -> None:
    async with AsyncStreamsClient(keyed.url, namespace="other") as anonymous:
        with pytest.raises(ResponseError) as caught:
            await anonymous.list_streams()
        _refused(caught)
    async with AsyncStreamsClient(keyed.url, namespace="other", api_key=keyed.keys.other) as client:
        await client.create_stream(name)
        assert name in await client.list_streams()


def test_consumer_group_worker(keyed: Keyed, name: str) -> None:
    with StreamsClient(keyed.url, namespace="other", api_key=keyed.keys.other) as client:
        client.create_stream(name, shards=2)
        client.put_many(name, [(f"k{i}", b"x") for i in range(6)])
        seen: list[StreamRecord] = []
        worker = ConsumerGroupWorker(client, name, "g", "w1", seen.append, wait_seconds=0.2)
        thread = threading.Thread(target=worker.run)
        thread.start()
        try:
            _wait_for(lambda: len(seen) == 6, "the worker to handle every record")
        finally:
            worker.stop()
            thread.join(30)
        assert not thread.is_alive()

    # Without a key the worker does not retry forever: its run ends with the server's 401.
    failures: list[BaseException] = []

    def run_without_key() -> None:
        with StreamsClient(keyed.url, namespace="other") as anonymous:
            lonely = ConsumerGroupWorker(anonymous, name, "g", "w2", seen.append)
            try:
                lonely.run()
            except BaseException as exc:
                failures.append(exc)

    thread = threading.Thread(target=run_without_key, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the worker kept retrying a refused key"
    assert len(failures) == 1 and isinstance(failures[0], ResponseError)
    assert failures[0].status == 401


def test_timeseries_client(keyed: Keyed) -> None:
    with TimeseriesClient(keyed.url) as anonymous, pytest.raises(ResponseError) as caught:
        anonymous.list()
    _refused(caught)
    with TimeseriesClient(keyed.url, api_key=keyed.keys.read) as client:
        assert client.list() == []
        with pytest.raises(ResponseError) as missing:
            client.get("nope")
        assert missing.value.status == 404


async def test_async_timeseries_client(keyed: Keyed) -> None:
    async with AsyncTimeseriesClient(keyed.url) as anonymous:
        with pytest.raises(ResponseError) as caught:
            await anonymous.list()
        _refused(caught)
    async with AsyncTimeseriesClient(keyed.url, api_key=keyed.keys.read) as client:
        assert await client.list() == []


def _stored(keyed: Keyed, stream: str) -> int:
    with Client(keyed.url, api_key=keyed.keys.rw) as client:
        return sum(1 for _ in client.get(stream, 0, "now"))


def test_shipper(keyed: Keyed, name: str) -> None:
    endpoint = f"{keyed.url}/v1/ingest/{name}"
    with Shipper(ShipperConfig(url=endpoint, spool_dir=None), autostart=False) as anonymous:
        anonymous.put({"a": 1})
        assert not anonymous.flush(10)  # refused (401): not delivered
        assert anonymous.counters.rejected == 1
    config = ShipperConfig(url=endpoint, spool_dir=None, api_key=keyed.keys.rw)
    assert keyed.keys.rw not in repr(config)
    with Shipper(config, autostart=False) as shipper:
        shipper.put({"a": 2})
        assert shipper.flush(10)
        assert shipper.counters.sent == 1
    assert _stored(keyed, name) == 1


async def test_async_shipper(keyed: Keyed, name: str) -> None:
    config = ShipperConfig(url=f"{keyed.url}/v1/ingest/{name}", spool_dir=None)
    async with AsyncShipper(config) as anonymous:
        anonymous.put({"a": 1})
        assert not await anonymous.flush(10)  # refused (401): not delivered
        assert anonymous.counters.rejected == 1
    keyed_config = ShipperConfig(
        url=f"{keyed.url}/v1/ingest/{name}", spool_dir=None, api_key=keyed.keys.rw
    )
    async with AsyncShipper(keyed_config) as shipper:
        shipper.put({"a": 2})
        assert await shipper.flush(10)
        assert shipper.counters.sent == 1
    assert _stored(keyed, name) == 1


def test_pykronos_nonblocking_sender(keyed: Keyed, name: str, tmp_path: Path) -> None:
    kc = KronosClient(keyed.url, blocking=False, spool_dir=tmp_path, api_key=keyed.keys.rw)
    try:
        kc.put({name: [{"a": 1}]})
        assert kc.shipper is not None and kc.shipper.flush(10)
        assert kc.shipper.counters.sent == 1
    finally:
        kc.close()
    assert _stored(keyed, name) == 1


def test_samsara(keyed: Keyed) -> None:
    event = {"sourceId": "s1", "eventName": "e", "timestamp": 1}
    anonymous = samsara.SamsaraClient(
        url=keyed.url, start_publishing_thread=False, compression="none"
    )
    try:
        with pytest.raises(ResponseError) as caught:
            anonymous.publish_events([event])
        assert caught.value.status == 401 and "API key" in str(caught.value)
    finally:
        anonymous.close()
    client = samsara.SamsaraClient(
        url=keyed.url, start_publishing_thread=False, compression="none", api_key=keyed.keys.rw
    )
    try:
        assert client.publish_events([event])
    finally:
        client.close()


def _triton_config(tmp_path: Path, keyed: Keyed, stream: str, key: str | None) -> Path:
    path = tmp_path / "triton.yaml"
    lines = [
        "demo:",
        f"  name: {stream}",
        "  partition_key: msg",
        f"  url: {keyed.url}",
        "  namespace: other",
    ]
    if key is not None:
        lines.append(f"  api_key: {key}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_triton(keyed: Keyed, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AION_API_KEY", raising=False)
    with StreamsClient(keyed.url, namespace="other", api_key=keyed.keys.other) as admin:
        admin.create_stream(name)
    anonymous = triton.get_stream(
        "demo", triton.load_config(_triton_config(tmp_path, keyed, name, None))
    )
    with pytest.raises(triton.KinesisError, match="401"):
        anonymous.put(msg="refused")
    anonymous.client.close()
    from_file = triton.load_config(_triton_config(tmp_path, keyed, name, keyed.keys.other))
    monkeypatch.setenv("AION_API_KEY", keyed.keys.other)
    from_env = triton.load_config(_triton_config(tmp_path, keyed, name, None))
    for config in (from_file, from_env):
        stream = triton.get_stream("demo", config)
        assert stream.put(msg="a")[0] == "shardId-000000000000"
        stream.client.close()


def test_cli_put_and_get_dash_s(keyed: Keyed, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AION_API_KEY", raising=False)
    monkeypatch.delenv("TRITON_CONFIG", raising=False)
    with StreamsClient(keyed.url, api_key=keyed.keys.admin) as admin:
        admin.create_stream(name)
    refused = runner.invoke(cli_app, ["put", "-s", name, "--url", keyed.url], input="a\n")
    assert refused.exit_code == 2 and "401" in refused.output
    put = runner.invoke(
        cli_app, ["put", "-s", name, "--url", keyed.url, "--api-key", keyed.keys.rw], input="a\n"
    )
    assert put.exit_code == 0, put.output
    tail = runner.invoke(cli_app, ["get", "-s", name, "--url", keyed.url])
    assert tail.exit_code == 2 and "401" in tail.output

    # ``get -s`` tails from the latest record until Ctrl-C: read one record put meanwhile.
    out = io.StringIO()
    shown: list[int] = []
    reader = threading.Thread(
        target=lambda: shown.append(
            cli_streams.get_records(name, None, keyed.url, None, out, 1, api_key=keyed.keys.rw)
        ),
        daemon=True,
    )
    reader.start()
    deadline = time.monotonic() + 30
    while reader.is_alive() and time.monotonic() < deadline:
        env_put = runner.invoke(
            cli_app, ["put", "-s", name, "--url", keyed.url],
            input="b\n", env={"AION_API_KEY": keyed.keys.rw},
        )  # fmt: skip
        assert env_put.exit_code == 0, env_put.output
        reader.join(0.2)
    assert shown == [1]
    assert "'msg': 'b\\n'" in out.getvalue()
