"""PyKronos's client tests (test_client.py), each in blocking and non-blocking mode, and the
seed README run as written (in Python 3) against a live server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dateutil.tz import tzutc

from aion.compat.pykronos.client import (
    ID_FIELD,
    TIMESTAMP_FIELD,
    KronosClient,
    KronosClientError,
    ResultOrder,
)
from aion.compat.pykronos.common.time import datetime_to_kronos_time, kronos_time_now


@pytest.fixture(params=["blocking", "nonblocking"])
def kc(request: pytest.FixtureRequest, server_url: str, tmp_path: Path) -> Iterator[KronosClient]:
    blocking = request.param == "blocking"
    client = KronosClient(
        server_url, blocking=blocking, sleep_block=0.2, namespace="kronos",
        spool_dir=tmp_path / "spool",
    )  # fmt: skip
    yield client
    client.close()


def settle(kc: KronosClient) -> None:
    kc.flush()


def test_put_and_get(kc: KronosClient) -> None:
    stream = "test_put_and_get"
    start = kronos_time_now()
    kc.put({stream: [{"a": 1}, {"a": 2}, {"a": 3, TIMESTAMP_FIELD: datetime.now(tz=tzutc())}]})
    settle(kc)
    events = list(kc.get(stream, start, kronos_time_now() + 10**8))
    assert sorted(e["a"] for e in events) == [1, 2, 3]
    assert all("@library" in e and ID_FIELD in e for e in events)
    times = [e[TIMESTAMP_FIELD] for e in events]
    assert times == sorted(times)


def test_delete(kc: KronosClient) -> None:
    stream = "test_delete"
    kc.put({stream: [{TIMESTAMP_FIELD: t} for t in (10, 20, 30)]})
    settle(kc)
    response = kc.delete(stream, 10, 20)
    assert response[stream]["memory"]["num_deleted"] == 2
    assert [e[TIMESTAMP_FIELD] for e in kc.get(stream, 0, 100)] == [30]


def test_get_streams(kc: KronosClient) -> None:
    kc.put({"test_streams.a": [{"x": 1}], "test_streams.b": [{"x": 1}]})
    settle(kc)
    assert {"test_streams.a", "test_streams.b"} <= set(kc.get_streams())


def test_infer_schema(kc: KronosClient) -> None:
    kc.put({"test_schema": [{"a": 1}, {"a": 2}]})
    settle(kc)
    schema = kc.infer_schema("test_schema")["schema"]
    assert schema["required"] == ["@id", "@library", "@time", "a"]
    assert schema["properties"]["@time"] == {"type": "integer"}


def test_log_function(kc: KronosClient) -> None:
    @kc.log_function("test_log_function", properties={"x": lambda x, y: x, "y": lambda x, y: y})
    def add(x: int, y: int) -> int:
        if y < 0:
            raise ValueError("negative")
        return x + y

    assert add(1, 2) == 3
    with pytest.raises(ValueError):
        add(1, -1)
    settle(kc)
    events = list(kc.get("test_log_function", 0, kronos_time_now() + 10**8))
    assert [(e["x"], e["y"]) for e in events] == [(1, 2), (1, -1)]
    assert all(e["duration"] >= 0 for e in events)
    assert events[1]["exception"]["class"] == "builtins.ValueError"  # PyKronos: module.class
    assert events[1]["exception"]["message"] == "negative"


def test_log_scope(kc: KronosClient) -> None:
    with kc.log_scope("test_log_scope", properties={"p": 1}) as event:
        event["inside"] = True
        raise RuntimeError("swallowed, as PyKronos did")
    settle(kc)
    (event_back,) = list(kc.get("test_log_scope", 0, kronos_time_now() + 10**8))
    assert event_back["p"] == 1
    assert event_back["inside"] is True
    assert event_back["exception"]["class"] == "builtins.RuntimeError"


def test_blocking_errors_raise(server_url: str) -> None:
    kc = KronosClient(server_url, namespace="kronos")
    with pytest.raises(KronosClientError):
        kc.put({"s": [{TIMESTAMP_FIELD: 1.5}]})
    with pytest.raises(KronosClientError):
        list(kc.get("bad name", 0, 1))
    kc.close()


def test_nonblocking_survives_an_outage_and_delivers_later(tmp_path: Path) -> None:
    """Unlike PyKronos, a failed send neither kills the sender nor loses the events."""
    from aion.server.app import create_app
    from tests.support.kronos import kronos_test_config
    from tests.support.live import free_port, serve

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    kc = KronosClient(url, blocking=False, sleep_block=0.05, spool_dir=tmp_path / "spool")
    kc.put({"outage": [{"n": i} for i in range(50)]})
    time.sleep(0.5)  # the server is down: sends fail and are retried
    assert kc.shipper is not None
    with serve(create_app(kronos_test_config(tmp_path)), port=port):
        kc.flush()
        reader = KronosClient(url)
        got = list(reader.get("outage", 0, kronos_time_now() + 10**8))
        reader.close()
        assert sorted(e["n"] for e in got) == list(range(50))
    kc.close()


def test_seed_readme_runs(server_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The PyKronos README, statement by statement, in Python 3 (print as a function)."""
    kc = KronosClient(server_url, namespace="kronos")
    start = datetime.now(tz=tzutc())
    nonblocking = KronosClient(server_url, namespace="kronos", blocking=False)
    kc.put(
        {
            "yourproduct.website.pageviews": [
                {
                    "source": "http://test.com",
                    "browser": {"name": "Firefox", "version": 26},
                    "pages": ["page1.html", "page2.html"],
                }
            ],
            "yourproduct.website.clicks": [
                {"user": 40, "num_clicks": 7},
                {"user": 42, "num_clicks": 2},
            ],
        }
    )
    optional_time = datetime_to_kronos_time(start + timedelta(seconds=5))
    kc.put({"yourproduct.website.clicks": [{"user": 35, "num_clicks": 10, TIMESTAMP_FIELD: optional_time}]})  # fmt: skip  # noqa: E501
    events: Any = kc.get("yourproduct.website.clicks", start, start + timedelta(minutes=10))
    received = []
    for event in events:
        print("Received event", event)
        received.append(event)
        last_event_id = event[ID_FIELD]
    assert [e["user"] for e in received] == [40, 42, 35] or [e["user"] for e in received][-1] == 35
    events = kc.get(
        "yourproduct.website.clicks",
        start,
        start + timedelta(minutes=10),
        order=ResultOrder.DESCENDING,
    )
    reverse = list(events)
    assert reverse[0]["user"] == 35
    events = kc.get(
        "yourproduct.website.clicks",
        start,
        start + timedelta(minutes=10),
        order=ResultOrder.DESCENDING,
        limit=1,
    )
    limited = list(events)
    assert len(limited) == 1
    last_event_id = limited[0][ID_FIELD]
    assert last_event_id
    streams = list(kc.get_streams())
    assert "yourproduct.website.clicks" in streams
    response = kc.infer_schema("yourproduct.website.clicks")
    assert response["schema"]["properties"]["num_clicks"] == {"type": "integer"}
    kc.delete(
        "yourproduct.website.clicks", start + timedelta(seconds=5), start + timedelta(minutes=10)
    )
    remaining = list(kc.get("yourproduct.website.clicks", start, start + timedelta(minutes=10)))
    assert [e["user"] for e in remaining] == [40, 42] or 35 not in [e["user"] for e in remaining]
    nonblocking.close()
    kc.close()
    assert "Received event" in capsys.readouterr().out


# -- issue 11: partial success, PyKronos's time strings, exception classes --------------------


def test_nonblocking_keeps_the_valid_events_batched_with_an_invalid_one(
    server_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Kronos stores the valid events of a put; so does the non-blocking client, and its
    flush() reports the refused one as PyKronos did ("Encountered errors ...")."""
    kc = KronosClient(
        server_url, blocking=False, sleep_block=60, namespace="kronos",
        spool_dir=tmp_path / "spool",
    )  # fmt: skip
    kc.put({"partial": [{"n": 1}, {"n": 2, TIMESTAMP_FIELD: 1.5}, {"n": 3}]})
    message = r"Encountered errors .*partial\[\d\]: @time .* float 1.5"
    refused = pytest.raises(KronosClientError, match=message)
    with caplog.at_level("ERROR", logger="aion.compat.pykronos"), refused:
        kc.flush()
    assert any("Encountered errors" in r.getMessage() for r in caplog.records)
    stored = list(kc.get("partial", 0, kronos_time_now() + 10**8))
    assert sorted(e["n"] for e in stored) == [1, 3]
    kc.flush()  # reported once: the next flush has nothing to report
    kc.close()


def test_nonblocking_flush_returns_once_the_batch_is_stored(
    server_url: str, tmp_path: Path
) -> None:
    """With a sleep_block far longer than the test's deadline, flush() still returns as soon
    as the server stored the batch (the background sender would wait a minute)."""
    kc = KronosClient(
        server_url, blocking=False, sleep_block=600, namespace="kronos",
        spool_dir=tmp_path / "spool",
    )  # fmt: skip
    kc.put({"flushed": [{"a": 1}, {"a": 2}]})
    done = threading.Event()
    threading.Thread(target=lambda: (kc.flush(), done.set()), daemon=True).start()
    assert done.wait(60)
    schema = kc.infer_schema("flushed")["schema"]
    assert schema["required"] == ["@id", "@library", "@time", "a"]
    kc.close()


PYKRONOS_TIMES = {
    # dateutil's parse, as PyKronos called it; naive means UTC
    "2014-06-20 10:30:00": datetime(2014, 6, 20, 10, 30, tzinfo=tzutc()),
    "2014-06-20T10:31:00Z": datetime(2014, 6, 20, 10, 31, tzinfo=tzutc()),
    "2014-06-20T12:32:00+02:00": datetime(2014, 6, 20, 10, 32, tzinfo=tzutc()),
    "Fri, 20 Jun 2014 10:33:00 GMT": datetime(2014, 6, 20, 10, 33, tzinfo=tzutc()),
    "June 20, 2014 10:34AM": datetime(2014, 6, 20, 10, 34, tzinfo=tzutc()),
    "2014/06/20 10:35": datetime(2014, 6, 20, 10, 35, tzinfo=tzutc()),
}


def test_the_time_strings_pykronos_accepted_still_parse(kc: KronosClient) -> None:
    stream = "pykronos_times"
    kc.put({stream: [{"text": text, TIMESTAMP_FIELD: text} for text in PYKRONOS_TIMES]})
    kc.put({stream: [{"text": "datetime", TIMESTAMP_FIELD: datetime(2014, 6, 20, 10, 36)}]})
    settle(kc)
    events = list(kc.get(stream, "2014-06-20", "June 21 2014"))
    got = {e["text"]: e[TIMESTAMP_FIELD] for e in events}
    expected = {text: datetime_to_kronos_time(dt) for text, dt in PYKRONOS_TIMES.items()}
    expected["datetime"] = datetime_to_kronos_time(datetime(2014, 6, 20, 10, 36, tzinfo=tzutc()))
    assert got == expected
    # "20140620" is a date to dateutil (PyKronos), not epoch seconds
    assert len(list(kc.get(stream, "20140620", "20140621"))) == len(expected)
    deleted = kc.delete(stream, "Fri, 20 Jun 2014 10:33:00 GMT", "2014-06-20T10:34:00")
    assert deleted[stream]["memory"]["num_deleted"] == 2
    assert len(list(kc.get(stream, "2014-06-20", "2014-06-21"))) == len(expected) - 2


class Refused(Exception):
    """An exception of one's own: its module is logged with it."""


def test_log_function_logs_module_and_class(kc: KronosClient) -> None:
    @kc.log_function("log_function_classes")
    def fail(kind: type[Exception]) -> None:
        raise kind("no")

    for kind in (ValueError, Refused):
        with pytest.raises(kind):
            fail(kind)
    settle(kc)
    events = list(kc.get("log_function_classes", 0, kronos_time_now() + 10**8))
    classes = [e["exception"]["class"] for e in events]
    # PyKronos: "%s.%s" % (exception.__module__, exception.__class__.__name__)
    assert classes == ["builtins.ValueError", f"{__name__}.Refused"]
