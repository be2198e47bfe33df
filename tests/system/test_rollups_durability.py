"""kill -9 of a real ``aion serve`` mid-load: after a restart, each stored event is counted
exactly once by its rollup (none lost, none doubled), on a SQLite rollup file and on Redis."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.procs import kill_hard, running_server, start_server
from tests.support.services import REDIS_URL, require

T0 = 1_800_000_000  # a whole hour: every event lands in one hour bucket
TICKS = 10_000_000


def _writer(url: str, acked: list[int], stop: threading.Event, start: int) -> None:
    n = start
    with httpx.Client(timeout=5) as http:
        while not stop.is_set():
            batch = [{"@time": (T0 + i % 3600) * TICKS, "n": n + i} for i in range(50)]
            try:
                r = http.post(url + "/1.0/events/put", json={"events": {"web.load": batch}})
            except httpx.HTTPError:
                return  # the server died mid-request: never acknowledged
            if r.status_code == 200 and r.json()["@success"]:
                acked.extend(e["n"] for e in batch)
            n += 50


def _load_then_kill(data: Path, config: Path, acked: list[int], start: int) -> None:
    proc, url = start_server(data, config=config)
    stop = threading.Event()
    thread = threading.Thread(target=_writer, args=(url, acked, stop, start))
    thread.start()
    time.sleep(1.5)
    kill_hard(proc)  # the rollup consumer is mid-way through the backlog
    stop.set()
    thread.join(10)


def _stored(url: str) -> list[int]:
    with httpx.Client(timeout=30) as http:
        r = http.post(
            url + "/1.0/events/get",
            json={"stream": "web.load", "start_time": 0, "end_time": (T0 + 7200) * TICKS},
        )
    return [json.loads(line)["n"] for line in r.content.splitlines() if line.strip()]


def _rolled_up(url: str) -> int:
    r = httpx.get(
        url + "/v1/timeseries/hits", params={"interval": "hour", "timestamp": str(T0)}, timeout=10
    )
    assert r.status_code == 200, r.text
    value: int = r.json()["datapoints"][0][0]
    return value


def _check_exact(data: Path, config: Path, acked: list[int]) -> None:
    with running_server(data, config=config) as url:
        stored = _stored(url)
        assert set(acked) <= set(stored)  # acknowledged events survive (the store's promise)
        assert len(stored) == len(set(stored))
        deadline = time.monotonic() + 30
        while _rolled_up(url) < len(stored) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # would anything be applied twice?
        assert _rolled_up(url) == len(stored)


def _config(tmp_path: Path, backend: str, options: str = "") -> Path:
    config = tmp_path / "aion.toml"
    config.write_text(
        "[[rollups]]\n"
        'stream = "web."\n'
        'timeseries = "hits"\n'
        'type = "count"\n'
        'intervals = { minute = { step = 60 }, hour = { step = "1h" } }\n'
        f'backend = "{backend}"\n'
        f"{options}"
    )
    return config


def _scenario(tmp_path: Path, config: Path) -> None:
    data = tmp_path / "data"
    acked: list[int] = []
    _load_then_kill(data, config, acked, 0)
    assert len(acked) > 100
    _load_then_kill(data, config, acked, 1_000_000)  # a second crash, during catch-up
    _check_exact(data, config, acked)


def test_kill_9_sqlite_rollups(tmp_path: Path) -> None:
    _scenario(tmp_path, _config(tmp_path, f"sqlite:///{tmp_path / 'rollups.db'}"))


@pytest.mark.service
def test_kill_9_redis_rollups(tmp_path: Path) -> None:
    require("redis")
    prefix = f"aiontest-{uuid.uuid4().hex[:8]}"
    _scenario(tmp_path, _config(tmp_path, REDIS_URL, f'options = {{ prefix = "{prefix}" }}\n'))
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
