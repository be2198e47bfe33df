"""The ``triton put`` / ``triton get`` functions against a live server."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest

from aion.cli import streams as cli
from aion.client.streams import StreamsClient
from aion.compat import triton
from tests.server.streams.conftest import LiveServer


@pytest.fixture
def config(tmp_path: Path, live: LiveServer, stream_name: str) -> Path:
    path = tmp_path / "triton.yaml"
    path.write_text(
        f"demo:\n  name: {stream_name}\n  partition_key: msg\n  url: {live.url}\n  shards: 2\n"
    )
    return path


def _read_all(live: LiveServer, stream: str) -> list[triton.Record]:
    s = triton.Stream(StreamsClient(live.url), stream, "msg")
    iterator = s.build_iterator_for_all()
    out = []
    for record in iterator:
        out.append(record)
        if len(out) == 3:
            break
    s.client.close()
    return out


def test_put_lines_with_alias(live: LiveServer, config: Path, stream_name: str) -> None:
    count = cli.put_lines("demo", None, config, io.StringIO("hi\nthere\nyou\n"))
    assert count == 3
    records = _read_all(live, stream_name)
    assert sorted(r.data["msg"] for r in records) == ["hi\n", "there\n", "you\n"]
    assert all(isinstance(r.data["ts"], float) for r in records)


def test_put_lines_by_name_and_env_config(
    live: LiveServer, config: Path, stream_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cli.CONFIG_ENV, str(config))
    assert cli.put_lines("demo", live.url, None, io.StringIO("a\n")) == 1
    monkeypatch.delenv(cli.CONFIG_ENV)
    assert cli.put_lines(stream_name, live.url, None, io.StringIO("b\nc\n")) == 2
    assert len(_read_all(live, stream_name)) == 3


def test_bad_config_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("demo:\n  name: x\n")
    with pytest.raises(triton.InvalidConfigurationError, match="Failed to load TRITON_CONFIG"):
        cli.put_lines("demo", None, bad, io.StringIO(""))


def _put_until(done: threading.Event, live: LiveServer, config: Path) -> None:
    n = 0
    while not done.is_set():
        cli.put_lines("demo", live.url, config, io.StringIO(f"line {n}\n"))
        n += 1
        time.sleep(0.05)


def test_get_records_prints_from_latest(live: LiveServer, config: Path) -> None:
    cli.put_lines("demo", None, config, io.StringIO("before\n"))
    out = io.StringIO()
    done = threading.Event()
    producer = threading.Thread(target=_put_until, args=(done, live, config))
    producer.start()
    try:
        shown = cli.get_records("demo", [0, 1], None, config, out, limit=2)
    finally:
        done.set()
        producer.join()
    assert shown >= 2
    text = out.getvalue()
    assert text.startswith("<Record shardId-00000000000")
    assert "'msg': 'line" in text
    assert "before" not in text
    assert "\n\n" in text


class _InterruptOnce(io.StringIO):
    """Output whose first write raises KeyboardInterrupt, as Ctrl-C would mid-print."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupted = False

    def write(self, s: str) -> int:
        if not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        return super().write(s)


def test_ctrl_c_stops_drains_and_returns(live: LiveServer, config: Path) -> None:
    out = _InterruptOnce()
    done = threading.Event()
    producer = threading.Thread(target=_put_until, args=(done, live, config))
    producer.start()
    try:
        # No limit: only the Ctrl-C ends it, after draining the records already fetched.
        shown = cli.get_records("demo", None, None, config, out)
    finally:
        done.set()
        producer.join()
    assert out.interrupted
    assert shown == out.getvalue().count("<Record ")


def test_get_records_shows_json_and_raw_bytes_readably(live: LiveServer, stream_name: str) -> None:
    with StreamsClient(live.url) as client:
        client.create_stream(stream_name)
        out = io.StringIO()
        done = threading.Event()

        def put_until_shown() -> None:
            while not done.is_set():
                client.put_many(stream_name, [("k", b'{"page": "/"}'), ("k", b"\xff raw")])
                time.sleep(0.05)

        producer = threading.Thread(target=put_until_shown)
        producer.start()
        try:
            cli.get_records(stream_name, None, live.url, None, out, limit=2)
        finally:
            done.set()
            producer.join()
    text = out.getvalue()
    assert "{'page': '/'}" in text
    assert "{'data_base64': '/yByYXc='}" in text
