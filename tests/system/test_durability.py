"""The guarantees Kronos lacked: acknowledged writes survive kill -9, and several server
processes on one store lose nothing under concurrent load."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from aion import Client
from tests.support.procs import kill_hard, running_server, start_server


def _writer(url: str, stream: str, tag: str, acked: list[int], stop: threading.Event) -> None:
    n = 0
    with httpx.Client(timeout=5) as http:
        while not stop.is_set():
            batch = [{"tag": tag, "n": n + i} for i in range(50)]
            try:
                r = http.post(url + "/1.0/events/put", json={"events": {stream: batch}})
            except httpx.HTTPError:
                return  # the server died mid-request: this batch was never acknowledged
            if r.status_code == 200 and r.json()["@success"]:
                acked.extend(e["n"] for e in batch)
            n += 50


def _stored(url: str, stream: str, tag: str) -> set[int]:
    with Client(url) as client:
        return {e["n"] for e in client.get(stream, 0, "now") if e["tag"] == tag}


def test_acknowledged_puts_survive_kill_9(tmp_path: Path) -> None:
    proc, url = start_server(tmp_path)
    acked: list[int] = []
    stop = threading.Event()
    thread = threading.Thread(target=_writer, args=(url, "s", "a", acked, stop))
    thread.start()
    time.sleep(1.5)
    kill_hard(proc)
    stop.set()
    thread.join(10)
    assert len(acked) > 100
    with running_server(tmp_path) as url2:
        stored = _stored(url2, "s", "a")
    assert set(acked) <= stored


def _concurrent_load(urls: list[str], stream: str, seconds: float = 2.0) -> dict[str, list[int]]:
    acked: dict[str, list[int]] = {}
    stop = threading.Event()
    threads = []
    for i in range(4):
        tag = f"w{i}"
        acked[tag] = []
        t = threading.Thread(
            target=_writer, args=(urls[i % len(urls)], stream, tag, acked[tag], stop)
        )
        threads.append(t)
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(15)
    return acked


def _check_nothing_lost(url: str, stream: str, acked: dict[str, list[int]]) -> None:
    with Client(url) as client:
        events = list(client.get(stream, 0, "now"))
    for tag, ns in acked.items():
        assert len(ns) > 0
        stored = [e["n"] for e in events if e["tag"] == tag]
        assert sorted(stored) == sorted(ns), tag  # nothing lost, nothing doubled


def test_two_workers_on_one_sqlite_file(tmp_path: Path) -> None:
    with running_server(tmp_path, workers=2) as url:
        acked = _concurrent_load([url], "w2")
        _check_nothing_lost(url, "w2", acked)


def test_two_servers_on_one_sqlite_file(tmp_path: Path) -> None:
    with running_server(tmp_path) as a, running_server(tmp_path) as b:
        acked = _concurrent_load([a, b], "two")
        _check_nothing_lost(a, "two", acked)
        _check_nothing_lost(b, "two", acked)


@pytest.mark.service
def test_two_servers_on_one_postgresql_database(tmp_path: Path, postgres_url: str) -> None:
    config = tmp_path / "aion.toml"
    config.write_text(
        # open: the servers share their keys through the database, which holds none here.
        f'open = true\n[backends.pg]\nurl = "{postgres_url}"\n'
        '[[routes]]\nnamespace = "*"\nprefix = ""\nbackends = ["pg"]\nread_backend = "pg"\n'
    )
    with running_server(tmp_path, config=config) as a, running_server(tmp_path, config=config) as b:
        acked = _concurrent_load([a, b], "pgtwo")
        _check_nothing_lost(a, "pgtwo", acked)
