"""docs/operations.md's full configuration (events on PostgreSQL, streams on NATS, rollups on
Redis) serves, as written, against the real local services: an event put is read back from
PostgreSQL, a stream record from JetStream, and the rollup of that record from Redis."""

from __future__ import annotations

import json
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import aion
from aion.cli.main import app as cli
from aion.server.app import create_app
from aion.server.config import AionConfig
from aion.server.ops.keys_cluster import check_cluster_start
from tests.support.databases import fresh_postgres_database
from tests.support.docblocks import parse
from tests.support.live import serve
from tests.support.paths import ROOT
from tests.support.services import require

pytestmark = pytest.mark.service

FILE = "aion-pg-nats-redis.toml"
DOC_DATABASE = "postgresql://postgres@127.0.0.1:5432/aion"


def _example() -> str:
    blocks = parse((ROOT / "docs" / "operations.md").read_text(encoding="utf-8"))
    [block] = [b for b in blocks if b.directives.get("file") == FILE]
    assert block.lang == "toml"
    return block.text


@dataclass(frozen=True)
class Served:
    url: str
    api_key: str


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The file as written, but on a database of its own (the doc's ``createdb aion``), since
    its API keys live there: a key made as the doc says, then ``aion serve``'s start check."""
    for service in ("postgresql", "nats", "redis"):
        require(service)
    with fresh_postgres_database("aion_full_config") as database:
        text = _example().replace(DOC_DATABASE, database)
        assert database in text
        path = tmp_path / FILE
        path.write_text(text, encoding="utf-8")
        made = CliRunner().invoke(
            cli, ["keys", "create", "--config", str(path), "--namespace", "*", "--scopes", "admin"]
        )
        assert made.exit_code == 0, made.output
        config = AionConfig.from_toml(path, data_dir=tmp_path / "aion-data")
        check_cluster_start(config)
        with serve(create_app(config)) as url:
            yield Served(url, made.stdout.strip())


def test_the_example_names_each_service() -> None:
    config = AionConfig.from_mapping(tomllib.loads(_example()))
    assert config.backends["pg"].startswith("postgresql://")
    assert config.streams is not None and config.streams.startswith("nats://")
    [rule] = config.extra["rollups"]
    assert rule["backend"].startswith("redis://")


def test_events_streams_and_rollups_each_on_their_service(served: Served) -> None:
    server, key = served.url, served.api_key
    # Names of their own, so runs on the same services never meet (the services keep data).
    run = uuid.uuid4().hex[:10]
    stream, shop = f"orders.{run}", f"shop-{run}"
    assert httpx.get(server + "/v1/streams").status_code == 401  # a cluster never serves open
    ready = httpx.get(server + "/readyz").json()
    # Every engine in use: NATS is its own service, the rollups' Redis too, and the keys
    # live in the shared PostgreSQL.
    assert ready["backends"] == {"pg": True, "streams": True, "rollups": True, "keys": True}
    with aion.Client(server, api_key=key) as client:
        started = datetime.now(tz=UTC) - timedelta(seconds=1)
        client.put({stream: [{"shop": shop, "total": 12.5}]})
        [event] = list(client.get(stream, started, "now"))
        assert event["shop"] == shop and event["total"] == 12.5
    with aion.StreamsClient(server, api_key=key) as streams:
        streams.create_stream(stream, shards=2)
        placed = [
            streams.put(stream, "customer-1", json.dumps({"shop": shop, "total": 30}).encode()),
            streams.put(stream, "customer-1", json.dumps({"shop": shop, "total": 12}).encode()),
        ]
        assert placed[0].shard == placed[1].shard
        iterator = streams.iterator(stream, placed[0].shard, "TRIM_HORIZON")
        batch = streams.read(stream, iterator, wait=5)
        assert [json.loads(r.data)["total"] for r in batch.records] == [30, 12]
    name = f"revenue.{shop}"
    with aion.TimeseriesClient(server, api_key=key) as rollups:
        deadline = time.monotonic() + 60
        while True:
            [rule] = rollups.list()
            if name in rule.names and rule.stats.get("events", 0) >= 3:
                break
            assert time.monotonic() < deadline, f"no rollup {name} after 60 s: {rule}"
            time.sleep(0.1)
        points = rollups.series(name, interval="day", steps=2, transform="sum", collapse=True)
        # The two records on NATS and the Kronos event in PostgreSQL: 30 + 12 + 12.5.
        assert [point.value for point in points.datapoints] == [54.5]
