"""Two servers on one PostgreSQL database share a rule's shards: each (rule, shard) is applied
by one server at a time, every event is counted exactly once, a server that leaves hands its
shards to the other, and the shards of a server killed with SIGKILL are taken over once its
leases expire."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from aion.server.app import create_app
from aion.server.config import AionConfig
from aion.server.rollups.worker import RollupWorker
from tests.support.live import LiveServer
from tests.support.procs import kill_hard, start_server

pytestmark = pytest.mark.service

SHARDS = 4


def _until(check: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def _server(raw: dict[str, Any], data: Path) -> tuple[LiveServer, RollupWorker]:
    app = create_app(AionConfig.from_mapping(dict(raw), data_dir=data))
    worker: RollupWorker = app.state.rollups
    worker.lease_seconds, worker.heartbeat_seconds = 6.0, 2.0  # quicker hand-overs
    return LiveServer(app), worker


def _config(postgres_url: str, tag: str) -> dict[str, Any]:
    return {
        "backends": {"pg": postgres_url},
        "routes": [{"namespace": "*", "prefix": "", "backends": ["pg"], "read_backend": "pg"}],
        "open": True,
        "rollups": [
            {
                "name": f"shared-{tag}",
                "stream": f"shared{tag}",
                "timeseries": "n",
                "type": "count",
                "intervals": {"all": {"step": "100y"}},  # one bucket: 1970-2069
                "backend": postgres_url.replace("postgresql://", "postgresql+psycopg://", 1),
                "options": {"table_name": f"r_{tag}"},
            }
        ],
    }


def _total(url: str) -> int:
    answer = httpx.get(f"{url}/v1/timeseries/n", params={"interval": "all"})
    if answer.status_code != 200:
        return 0
    return sum(int(value or 0) for value, _ in answer.json()["datapoints"])


def _put(url: str, stream: str, first: int, count: int) -> None:
    records = [{"partition_key": f"k{i}", "data": {"n": i}} for i in range(first, first + count)]
    for start in range(0, count, 500):
        answer = httpx.post(
            f"{url}/v1/streams/{stream}/records", json={"records": records[start : start + 500]}
        )
        answer.raise_for_status()


def test_each_rule_and_shard_has_one_owner(postgres_url: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    stream, rule = f"shared{tag}", f"shared-{tag}"
    raw = _config(postgres_url, tag)
    (a, first), (b, second) = _server(raw, tmp_path / "a"), _server(raw, tmp_path / "b")
    a.start()
    try:
        b.start()
        created = httpx.post(f"{a.url}/v1/streams", json={"name": stream, "shards": SHARDS})
        created.raise_for_status()

        def one_owner_each() -> None:
            # Each server changes its pairs on its own thread: a pair a held before and after
            # b's snapshot was a's all along.
            mine, theirs, mine_after = first.applying, second.applying, first.applying
            both = mine & theirs & mine_after
            assert not both, f"applied by both servers: {both}"

        def total() -> int:
            return _total(b.url)

        def settled(expected: int) -> bool:
            one_owner_each()
            return total() == expected and len(first.applying | second.applying) == SHARDS

        for round_ in range(4):  # puts through both servers while the shards are shared out
            _put(a.url if round_ % 2 else b.url, stream, round_ * 500, 500)
            one_owner_each()
        _until(lambda: settled(2000) and len(first.applying) == len(second.applying) == 2)
        one_owner_each()
        events = first.stats[rule].events + second.stats[rule].events
        assert events == 2000  # exactly once in total
        assert first.stats[rule].conflicts + second.stats[rule].conflicts == 0  # never raced

        a.stop()  # a graceful stop hands every shard back
        assert first.applying == set()
        _put(b.url, stream, 2000, 400)
        _until(lambda: len(second.applying) == SHARDS and total() == 2400)
        assert first.stats[rule].events + second.stats[rule].events == 2400
    finally:
        a.stop()
        b.stop()


def _toml(raw: dict[str, Any]) -> str:
    [rule] = raw["rollups"]
    return (
        f"open = true\n[backends.pg]\nurl = {json.dumps(raw['backends']['pg'])}\n"
        '[[routes]]\nnamespace = "*"\nprefix = ""\nbackends = ["pg"]\nread_backend = "pg"\n'
        "[[rollups]]\n"
        + "".join(f"{key} = {json.dumps(rule[key])}\n" for key in ("name", "stream", "timeseries",
                                                                    "type", "backend"))
        + 'intervals = { all = { step = "100y" } }\n'
        + f"options = {{ table_name = {json.dumps(rule['options']['table_name'])} }}\n"
    )  # fmt: skip


def test_a_killed_servers_shards_are_taken_over(postgres_url: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    raw = _config(postgres_url, tag)
    stream, group = f"shared{tag}", f"rollup.shared-{tag}"
    config = tmp_path / "aion.toml"
    config.write_text(_toml(raw), encoding="utf-8")
    proc, a_url = start_server(tmp_path / "a", config=config)  # a real process, for SIGKILL
    b, second = _server(raw, tmp_path / "b")
    try:
        created = httpx.post(f"{a_url}/v1/streams", json={"name": stream, "shards": SHARDS})
        created.raise_for_status()
        _put(a_url, stream, 0, 1000)
        b.start()

        def owners() -> set[str]:
            leases = httpx.get(f"{b.url}/v1/streams/{stream}/groups/{group}/leases").json()
            return {lease["owner"] for lease in leases["leases"] if lease["owner"]}

        _until(lambda: len(owners()) == 2 and bool(second.applying))  # shared out
        kill_hard(proc)  # its leases stay until they expire
        _put(b.url, stream, 1000, 1000)
        _until(lambda: len(second.applying) == SHARDS and _total(b.url) == 2000)
        _put(b.url, stream, 2000, 4)  # a batch applied twice would overshoot for good
        _until(lambda: _total(b.url) == 2004)
    finally:
        kill_hard(proc)
        b.stop()
