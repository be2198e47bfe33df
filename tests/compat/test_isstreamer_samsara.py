"""aion.compat.isstreamer and aion.compat.samsara against the routers served by uvicorn,
and the published ISStreamer and samsara-sdk packages, unchanged, against the same server."""

from __future__ import annotations

import collections
import csv
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aion.compat import isstreamer, samsara
from aion.core.time import epoch_time_to_kronos_time, milliseconds_to_kronos_time
from aion.errors import ConfigurationError
from tests.support.served import ServedApp, served
from tests.support.sinks import ListSink, ingest_app


@pytest.fixture
def server() -> Iterator[tuple[ListSink, ServedApp]]:
    sink = ListSink()
    with served(ingest_app(sink)) as app:
        yield sink, app


def ini(tmp_path: Path, base: str, client_section: bool = True) -> Path:
    path = tmp_path / "isstreamer.ini"
    text = f"[isstreamer.api_config]\nstream_api_base = {base}\n"
    if client_section:
        text += "[isstreamer.client_config]\naccess_key = ak\n"
    path.write_text(text)
    return path


# -- aion.compat.isstreamer ------------------------------------------------------------------


def test_streamer_logs_to_the_bucket_of_the_moment(
    server: tuple[ListSink, ServedApp], tmp_path: Path
) -> None:
    sink, app = server
    path = ini(tmp_path, app.url, client_section=False)  # the api section alone is honoured
    s = isstreamer.Streamer(
        bucket_name="First",
        bucket_key="first",
        access_key="ak",
        ini_file_location=str(path),
        buffer_size=100,
        spool_dir=tmp_path / "spool",
    )
    s.log("temperature", 21.5, epoch=1431261991.25)
    s.log("bad-epoch", 1, epoch=float("nan"))  # invalid epochs mean now
    s.set_bucket(bucket_name="Second", bucket_key="second bucket")
    s.log("temperature", 22)
    s.log_object({"a": 1, "b": "x"}, key_prefix="d")
    point = collections.namedtuple("point", "x y")
    s.log_object(point(1, 2))
    s.close()
    first = sink.events("first")
    assert first[0] == {
        "key": "temperature",
        "value": 21.5,
        "@time": epoch_time_to_kronos_time(1431261991.25),
    }
    assert first[1]["key"] == "bad-epoch"
    second_stream = isstreamer_stream("second bucket")
    second = sink.events(second_stream)
    assert [(e["key"], e["value"]) for e in second] == [
        ("temperature", 22),
        ("d_a", 1),
        ("d_b", "x"),
        ("point_x", 1),
        ("point_y", 2),
    ]


def isstreamer_stream(key: str) -> str:
    from aion.server.ingest.initialstate_api import bucket_stream_name

    return bucket_stream_name(key)


def test_streamer_402_goes_to_the_missed_events_file(tmp_path: Path) -> None:
    import httpx

    def capped(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/buckets":
            return httpx.Response(201)
        return httpx.Response(402)

    missed = tmp_path / "missed.txt"
    s = isstreamer.Streamer(
        bucket_key="b",
        access_key="ak",
        ini_file_location=str(ini(tmp_path, "http://is.test")),
        use_async=False,
        buffer_size=2,
        missed_events_file=missed,
        spool_dir=tmp_path / "spool",
        transport=httpx.MockTransport(capped),
    )
    for i in range(3):
        s.log("k", i, epoch=100 + i)
    s.close()
    lines = missed.read_text().splitlines()
    assert sum(len(json.loads(line)) for line in lines) == 3
    assert s.counters["rejected"] == 3


def test_streamer_offline_csv_and_ini_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError):
        isstreamer.read_config(tmp_path / "missing.ini")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert isstreamer.read_config() == isstreamer.IniConfig()
    (tmp_path / "isstreamer.ini").write_text(
        "[isstreamer.client_config]\naccess_key = k1\noffline_mode = true\noffline_file = out.csv\n"
    )
    s = isstreamer.Streamer(bucket_key="b")
    assert s.Offline and s.AccessKey == "k1"
    s.log("k", "v", epoch=5)
    s.close()
    with (tmp_path / "out.csv").open() as f:
        assert list(csv.reader(f)) == [["5", "k", "v"]]
    bad = tmp_path / "bad.ini"
    bad.write_text("[isstreamer.api_config]\nstream_api_base = ftp://x\n")
    with pytest.raises(ConfigurationError):
        isstreamer.read_config(bad)


def test_streamer_without_an_ini_file_finds_aion_and_keeps_the_cwd_clean(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ini file, no arguments but the bucket: the events go to the Aion at $AION_URL (not
    Initial State's cloud), and the spool lives in the per-user cache, not the cwd."""
    from aion.client import Client

    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("AION_API_KEY", raising=False)
    monkeypatch.setenv("AION_URL", server_url)
    s = isstreamer.Streamer(bucket_name="Defaults", bucket_key="isdefaults")
    assert s.StreamApiBase == server_url
    s.log("temperature", 21.5)
    s.flush()
    s.close()
    with Client(server_url) as client:
        events = list(client.get("isdefaults", 0, 2**62))
    assert [(e["key"], e["value"]) for e in events] == [("temperature", 21.5)]
    assert list(work.iterdir()) == []  # no spool, no missed-events file in the cwd
    assert s._shipper is not None and s._shipper.config.spool_dir == (
        home / ".cache" / "aion" / "isstreamer"
    )


def test_streamer_api_base_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The constructor's stream_api_base, else the ini file's, else $AION_URL, else a local
    Aion: never https://groker.init.st unless one asks for it."""
    monkeypatch.delenv("AION_URL", raising=False)
    assert isstreamer.resolve_api_base(None, None) == "http://127.0.0.1:8151"
    monkeypatch.setenv("AION_URL", "http://env.test:1/")
    assert isstreamer.resolve_api_base(None, None) == "http://env.test:1"
    assert isstreamer.resolve_api_base(None, "http://ini.test") == "http://ini.test"
    assert isstreamer.resolve_api_base("http://arg.test", "http://ini.test") == "http://arg.test"
    with pytest.raises(ConfigurationError):
        isstreamer.resolve_api_base("groker.init.st", None)


# -- aion.compat.samsara ---------------------------------------------------------------------


def test_samsara_client_publishes_at_sub_second_intervals(
    server: tuple[ListSink, ServedApp],
) -> None:
    sink, app = server
    client = samsara.SamsaraClient(
        url=app.url + "/", sourceId="dev-1", publish_interval=50, min_buffer_size=5
    )
    for i in range(12):
        client.record_event(eventName="tick", n=i)
    deadline = time.monotonic() + 5
    while len(sink.events("samsara")) < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(sink.events("samsara")) >= 10  # published by the thread, not by close
    client.close()
    events = sink.events("samsara")
    assert [e["n"] for e in events] == list(range(12))
    assert all(e["sourceId"] == "dev-1" and "publishedAt" in e for e in events)
    assert events[0]["@time"] == milliseconds_to_kronos_time(events[0]["timestamp"])
    assert all(c.partition_keys == ["dev-1"] * len(c.events) for c in sink.calls)


def test_samsara_publish_events_validates_and_sends(server: tuple[ListSink, ServedApp]) -> None:
    sink, app = server
    client = samsara.SamsaraClient(url=app.url, start_publishing_thread=False, compression="none")
    with pytest.raises(samsara.InvalidEvent):
        client.publish_events([{"eventName": "x", "sourceId": "s", "timestamp": "now"}])
    with pytest.raises(samsara.InvalidEvent):
        client.record_event(eventName="no source")
    assert client.publish_events([{"eventName": "x", "sourceId": "s", "timestamp": 7}])
    assert sink.events("samsara")[0]["timestamp"] == 7
    for _ in range(samsara.DEFAULT_CONFIG["min_buffer_size"]):
        client.record_event(eventName="e", sourceId="s")
    assert client._buffer_is_ready() and len(client._buffer) == 100
    client._flush_buffer_if_ready()
    assert client._buffer == []
    client.close()


def test_samsara_configuration_rules() -> None:
    with pytest.raises(samsara.InvalidConfiguration):
        samsara.SamsaraClient(start_publishing_thread=False)
    with pytest.raises(samsara.InvalidConfiguration):
        samsara.SamsaraClient(url="http://h", compression="zip", start_publishing_thread=False)
    with pytest.raises(samsara.InvalidConfiguration):
        samsara.SamsaraClient(url="http://h", publish_interval=-1, start_publishing_thread=False)
    c = samsara.SamsaraClient(
        url="http://h/prefix/", min_buffer_size=0, start_publishing_thread=False
    )
    assert c.config["endpoint"] == "http://h/prefix/v1/events"
    assert c.config["min_buffer_size"] == 1
    c.close()


# -- the published packages, unchanged -------------------------------------------------------


# ISStreamer 2.0.0 never closes its http.client connections; that is the package's leak.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_published_isstreamer_package(
    server: tuple[ListSink, ServedApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ISStreamer.Streamer import Streamer

    sink, app = server
    monkeypatch.chdir(tmp_path)
    path = ini(tmp_path, app.url)
    streamer = Streamer(
        bucket_name="Pkg", bucket_key="pkg", ini_file_location=str(path), use_async=False
    )
    streamer.log("test", "hi")
    streamer.log("temperature", 32, epoch=1431261991.5)
    streamer.log_object({"a": 1})
    streamer.flush()
    streamer.close()
    events = sink.events("pkg")
    assert [(e["key"], e["value"]) for e in events] == [
        ("test", "hi"),
        ("temperature", 32),
        ("dict_a", 1),
    ]
    assert events[1]["@time"] == 14312619915000000
    assert not (tmp_path / "err_missed_events.txt").exists()


def test_published_samsara_sdk_package(server: tuple[ListSink, ServedApp]) -> None:
    from samsara_sdk.client import SamsaraClient

    sink, app = server
    client = SamsaraClient(url=app.url, sourceId="pkg", start_publishing_thread=False)
    for i in range(15):
        client.record_event(eventName="user.logged", n=i)
    client.config["min_buffer_size"] = 10
    assert client._buffer_is_ready()
    client._flush_buffer_if_ready()  # gzip, X-Samsara-publishedTimestamp
    assert len(client._buffer) == 0
    assert client.publish_events(
        [{"eventName": "bulk", "timestamp": 1431261991023, "sourceId": "e6f0"}]
    )
    events = sink.events("samsara")
    assert [e.get("n") for e in events[:15]] == list(range(15))
    assert events[-1]["@time"] == milliseconds_to_kronos_time(1431261991023)
    assert all("publishedAt" in e and "receivedAt" in e for e in events)
