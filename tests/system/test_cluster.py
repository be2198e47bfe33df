"""Three servers behind a round-robin balancer on one PostgreSQL database, as
docs/deployment.md sets them up: every request may land on any server.

Each server has its own data directory and ``node_id`` (as on three machines) and the same
config: events, streams and API keys in the shared database, never open. The balancer
(:mod:`tests.support.balancer`) sends each request to the next server in turn, and skips one
that refuses connections, as nginx and HAProxy do.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from aion import Client
from aion.client.streams import ConsumerGroupWorker, StreamsClient
from aion.server.app import create_app
from aion.server.config import AionConfig
from aion.server.ops.auth_rules import Scope
from aion.server.ops.keys_cluster import open_key_store
from tests.support.balancer import RoundRobin
from tests.support.databases import fresh_postgres_database
from tests.support.live import LiveServer, serve
from tests.support.procs import kill_hard, start_server
from tests.support.services import REDIS_URL, require
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.service,
    pytest.mark.timeout(180),
    # boto3 still calls datetime.utcnow
    pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning"),
]
NODES = ("aion-1", "aion-2", "aion-3")
ROLLUP_RULE = """name = "sizes"
stream = "rolled."
timeseries = "size.{kind}"
type = "count"
intervals = { minute = { step = 60 } }
"""


@dataclass
class Cluster:
    config: AionConfig  # as the first server reads it (the others differ in data_dir, node_id)
    servers: list[LiveServer]
    balancer: RoundRobin
    url: str  # the balancer's
    token: str  # an admin key for every namespace, made in the shared store before start

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require("redis")
    root = tmp_path_factory.mktemp("cluster")
    with fresh_postgres_database("aion_cluster") as database, ExitStack() as stack:
        rollups = f"aion-test-cluster-{uuid.uuid4().hex[:8]}"
        (root / "aion.toml").write_text(
            f'keys_store = "pg"\n\n[backends.pg]\nurl = "{database}"\n\n'
            f"[[rollups]]\n{ROLLUP_RULE}"
            f'backend = "{REDIS_URL}"\noptions = {{ prefix = "{rollups}" }}\n',
            encoding="utf-8",
        )
        configs = [  # one file for all, as `aion serve --config aion.toml --node-id aion-N`
            replace(AionConfig.from_toml(root / "aion.toml", data_dir=root / node), node_id=node)
            for node in NODES
        ]
        _, token = open_key_store(configs[0]).create("*", frozenset({Scope.ADMIN}))
        servers = []
        for config in configs:
            server = LiveServer(create_app(config))
            server.start()
            stack.callback(server.stop)
            servers.append(server)
        balancer = RoundRobin([s.url for s in servers])
        url = stack.enter_context(serve(balancer))
        yield Cluster(configs[0], servers, balancer, url, token)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_the_balancer_reaches_every_server_and_each_names_itself(cluster: Cluster) -> None:
    with httpx.Client(headers=cluster.auth) as http:
        ids = {http.get(f"{cluster.url}/1.0/index").json()["id"] for _ in range(6)}
        labels = {
            line.split('server="')[1].split('"')[0]
            for _ in range(3)
            for line in http.get(f"{cluster.url}/metrics").text.splitlines()
            if line.startswith("aion_build_info{")
        }
    assert ids == set(NODES)
    assert labels == set(NODES)  # /metrics is per server, labelled with its node_id


def test_keys_made_and_revoked_in_the_store_are_enforced_by_every_server(
    cluster: Cluster,
) -> None:
    store = open_key_store(cluster.config)
    key, token = store.create("default", frozenset({Scope.READ}))

    def statuses(headers: dict[str, str]) -> list[int]:
        return [
            httpx.get(f"{s.url}/v1/streams", headers=headers).status_code for s in cluster.servers
        ]

    reader = {"Authorization": f"Bearer {token}"}
    wait_until(lambda: statuses(reader) == [200, 200, 200], "a new key accepted everywhere")
    assert statuses({}) == [401, 401, 401]  # the cluster never serves open
    assert [
        httpx.get(f"{s.url}/v1/streams", params={"namespace": "other"}, headers=reader).status_code
        for s in cluster.servers
    ] == [403, 403, 403]
    store.revoke(key.key_id)
    wait_until(lambda: statuses(reader) == [401, 401, 401], "a revoked key refused everywhere")


def test_a_consumer_worker_behind_the_balancer_reads_every_record(cluster: Cluster) -> None:
    stream = unique("orders")
    sent = [f"r{i}".encode() for i in range(300)]
    seen: list[bytes] = []
    with StreamsClient(cluster.url, api_key=cluster.token) as client:
        client.create_stream(stream, shards=4)
        client.put_many(stream, [(f"k{i}", data) for i, data in enumerate(sent)])
        worker = ConsumerGroupWorker(
            client, stream, "billing", "w1", lambda r: seen.append(r.data),
            lease_seconds=5, batch=40, wait_seconds=0.1,
        )  # fmt: skip
        thread = threading.Thread(target=worker.run)
        thread.start()
        try:
            wait_until(lambda: len(set(seen)) >= len(sent) or not thread.is_alive(), "all read")
        finally:
            worker.stop()
            thread.join(30)
        checkpoints = client.get_checkpoints(stream, "billing")
    assert sorted(set(seen)) == sorted(sent)
    assert sum(checkpoints.values()) == len(sent)  # contiguous sequences on PostgreSQL
    # Its reads went through every server: iterators of one verified on the others.
    assert all(cluster.balancer.served[s.url] > 0 for s in cluster.servers)


def _kinesis(cluster: Cluster) -> Any:
    return boto3.client(
        "kinesis",
        endpoint_url=cluster.url,
        region_name="us-east-1",
        aws_access_key_id=cluster.token,
        aws_secret_access_key="unused",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def test_a_kinesis_reader_behind_the_balancer_reads_every_record(cluster: Cluster) -> None:
    stream = unique("clicks")
    kinesis = _kinesis(cluster)
    try:
        kinesis.create_stream(StreamName=stream, ShardCount=3)
        sent = {f"c{i}".encode() for i in range(120)}
        ordered = sorted(sent)
        for chunk in (ordered[i : i + 40] for i in range(0, len(ordered), 40)):
            records = [{"Data": d, "PartitionKey": d.decode()} for d in chunk]
            assert kinesis.put_records(StreamName=stream, Records=records)["FailedRecordCount"] == 0
        read: list[bytes] = []
        shards = kinesis.list_shards(StreamName=stream)["Shards"]
        for shard in shards:
            iterator = kinesis.get_shard_iterator(
                StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while True:  # each call lands on the next server
                out = kinesis.get_records(ShardIterator=iterator, Limit=7)
                read += [r["Data"] for r in out["Records"]]
                iterator = out["NextShardIterator"]
                if not out["Records"] and out["MillisBehindLatest"] == 0:
                    break
    finally:
        kinesis.close()
    assert len(shards) == 3
    assert sorted(read) == sorted(sent)


def test_dashboard_rates_are_the_same_on_every_server(cluster: Cluster) -> None:
    stream = unique("clicks")
    with httpx.Client(headers=cluster.auth) as http:
        for n in range(3):  # each put on another server
            put = http.post(f"{cluster.url}/1.0/events/put", json={"events": {stream: [{"n": n}]}})
            assert put.status_code == 200, put.text
        views = [
            {s["stream"]: s["count"] for s in http.get(f"{s.url}/ui/api/streams").json()["streams"]}
            for s in cluster.servers
        ]
    assert [v.get(stream) for v in views] == [3, 3, 3]


BATCHES = 30  # per writer, of 20 events


def _writer(url: str, token: str, stream: str, writer: int, acked: list[int]) -> None:
    """Puts BATCHES batches of 20 events, each retried (same batch id) until a 200."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=10, headers=headers) as http:
        for b in range(BATCHES):
            first = (writer * BATCHES + b) * 20
            events = [{"n": first + i} for i in range(20)]
            batch_id = f"{stream}-{writer}-{b}"
            for _ in range(200):
                try:
                    answer = http.post(
                        f"{url}/v1/ingest/default/{stream}",
                        json=events,
                        headers={"X-Aion-Batch-Id": batch_id},
                    )
                except httpx.HTTPError:
                    continue
                if answer.status_code == 200:
                    acked.extend(e["n"] for e in events)
                    break
                time.sleep(0.05)


def test_a_server_stopped_mid_load_loses_nothing_acknowledged(cluster: Cluster) -> None:
    stream = unique("load")
    acked: list[int] = []  # list.extend is atomic: the writers share it
    writers = [
        threading.Thread(target=_writer, args=(cluster.url, cluster.token, stream, w, acked))
        for w in range(3)
    ]
    victim = cluster.servers[1]
    for thread in writers:
        thread.start()
    stopped = False
    try:
        wait_until(lambda: len(acked) >= 200, "writes acknowledged before the stop")
        victim.stop()  # mid-load: requests in flight on it finish or fail, the rest go on
        stopped = True
        stopped_at = len(acked)
        wait_until(lambda: len(acked) >= stopped_at + 200, "writes go on with a server down")
    finally:
        for thread in writers:
            thread.join(120)
        if stopped:
            victim.start()
    assert cluster.balancer.skipped[victim.url] > 0  # the balancer did meet the stopped server
    with Client(cluster.url, api_key=cluster.token) as client:
        stored = [e["n"] for e in client.get(stream, 0, "now")]
    assert len(acked) == 3 * BATCHES * 20  # every batch was acknowledged in the end
    assert sorted(stored) == sorted(acked)  # every acknowledged event, each once


def test_each_rollup_shard_is_applied_by_exactly_one_server(cluster: Cluster) -> None:
    """The three servers share a rule's work through leases: each shard of a followed stream
    has one applier, and every record is counted once in all."""
    stream = unique("rolled.x")
    with StreamsClient(cluster.url, api_key=cluster.token) as client:
        client.create_stream(stream, shards=4)
        client.put_many(stream, [(f"k{i}", b'{"kind": "a"}') for i in range(200)])

    def applied() -> list[set[tuple[str, int]]]:
        return [
            {(s, shard) for rule, _, s, shard in server.app.state.rollups.applying if s == stream}
            for server in cluster.servers
        ]

    def counted() -> int:
        total = 0
        for server in cluster.servers:
            rules = httpx.get(f"{server.url}/v1/timeseries", headers=cluster.auth).json()
            total += sum(r["stats"]["events"] for r in rules["rollups"] if r["rule"] == "sizes")
        return total

    # Only this test's stream matches the rule, so the servers' counts are of its records.
    try:
        wait_until(lambda: counted() >= 200, "every record rolled up")
    except AssertionError as exc:
        stats = [server.app.state.rollups.stats["sizes"] for server in cluster.servers]
        raise AssertionError(f"{exc}: {counted()} counted, {applied()}, {stats}") from None
    wait_until(
        lambda: set().union(*applied()) == {(stream, shard) for shard in range(4)},
        "every shard has an applier",
    )
    owners = applied()
    assert sum(len(shards) for shards in owners) == 4  # no shard applied by two servers
    assert counted() == 200  # and no record counted twice


@pytest.fixture
def with_skewed_server(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RoundRobin, str, subprocess.Popen[bytes]]]:
    """A fourth server, a real ``aion serve`` process whose wall clock runs 20 s ahead, on the
    same config, behind a balancer over all four: (balancer, its URL, the process)."""
    root = tmp_path_factory.mktemp("skewed")
    config = root / "aion.toml"
    config.write_text(
        f'keys_store = "pg"\n\n[backends.pg]\nurl = "{cluster.config.backends["pg"]}"\n',
        encoding="utf-8",
    )
    proc, url = start_server(root / "data", config=config, node_id="aion-4", clock_offset=20.0)
    try:
        balancer = RoundRobin([*(s.url for s in cluster.servers), url])
        with serve(balancer) as balanced:
            yield balancer, balanced, proc
    finally:
        kill_hard(proc)


def test_a_server_whose_clock_is_20_s_ahead_does_not_make_two_owners(
    cluster: Cluster, with_skewed_server: tuple[RoundRobin, str, subprocess.Popen[bytes]]
) -> None:
    """Lease expiry is decided on the database's clock: heartbeats landing on the server whose
    clock is ahead neither expire the others' leases early nor deliver a record twice."""
    balancer, url, _ = with_skewed_server
    stream = unique("skew")
    sent = [f"s{i}".encode() for i in range(400)]
    seen: list[tuple[str, int, int]] = []  # (worker, shard, sequence), appended atomically
    with StreamsClient(url, api_key=cluster.token) as client:
        client.create_stream(stream, shards=4)
        client.put_many(stream, [(f"k{i}", data) for i, data in enumerate(sent)])
        workers = [
            ConsumerGroupWorker(
                client,
                stream,
                "skew",
                name,
                lambda r, name=name: seen.append((name, r.shard, int(r.sequence))),
                lease_seconds=5,
                batch=20,
                wait_seconds=0.1,
            )
            for name in ("w1", "w2")
        ]
        threads = [threading.Thread(target=w.run) for w in workers]
        for thread in threads:
            thread.start()
        try:
            wait_until(
                lambda: (
                    len({(s, q) for _, s, q in seen}) >= len(sent)
                    or not all(t.is_alive() for t in threads)
                ),
                "every record handled",
            )
        finally:
            for worker in workers:
                worker.stop()
            for thread in threads:
                thread.join(30)
    handled = [(shard, sequence) for _, shard, sequence in seen]
    assert len(set(handled)) == len(sent)
    assert len(handled) == len(sent)  # none twice: no shard had two owners at once
    assert balancer.served[balancer.servers[-1]] > 0  # the skewed server did take its turns


def test_a_server_killed_mid_load_loses_nothing_acknowledged(
    cluster: Cluster, with_skewed_server: tuple[RoundRobin, str, subprocess.Popen[bytes]]
) -> None:
    """SIGKILL, not a stop: requests in flight on the killed server are lost to the client,
    which retries them (same batch id) through the balancer."""
    balancer, url, proc = with_skewed_server
    stream = unique("killed")
    acked: list[int] = []
    writers = [
        threading.Thread(target=_writer, args=(url, cluster.token, stream, w, acked))
        for w in range(3)
    ]
    for thread in writers:
        thread.start()
    try:
        wait_until(lambda: len(acked) >= 200, "writes acknowledged before the kill")
        kill_hard(proc)
        killed_at = len(acked)
        wait_until(lambda: len(acked) >= killed_at + 200, "writes go on after the kill")
    finally:
        for thread in writers:
            thread.join(120)
    assert balancer.skipped[balancer.servers[-1]] > 0  # the balancer met the killed server
    with Client(cluster.url, api_key=cluster.token) as client:
        # The skewed server stamped its events 20 s ahead: read past "now".
        later = datetime.now(tz=UTC) + timedelta(hours=1)
        stored = [e["n"] for e in client.get(stream, 0, later)]
    assert len(acked) == 3 * BATCHES * 20
    assert sorted(stored) == sorted(acked)
