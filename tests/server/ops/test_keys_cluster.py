"""Two live servers on one PostgreSQL database are one cluster: the same API keys (created and
revoked with ``aion keys --config``), the start rule, and iterators that read on either."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import redis
from typer.testing import CliRunner

from aion.cli.main import app as cli
from aion.server.app import create_app
from aion.server.config import AionConfig
from aion.server.ops.keys_cluster import check_cluster_start
from aion.server.streams.kinesis_shapes import TARGET_PREFIX
from tests.support.backends import unique
from tests.support.live import free_port, serve
from tests.support.services import REDIS_URL, require
from tests.support.waiting import DEADLINE_SECONDS, wait_until

pytestmark = pytest.mark.service
runner = CliRunner()


def write_config(tmp_path: Path, database: str, *extra: str) -> Path:
    path = tmp_path / "aion.toml"
    lines = [*extra, "[backends.pg]", f'url = "{database}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def cluster(tmp_path: Path, fresh_database: str) -> Iterator[tuple[Path, list[str]]]:
    """The config file and the URLs of two servers on the same database (each with its own
    data directory and node id, as on two machines). Open until a key exists, said so."""
    config = write_config(tmp_path, fresh_database, "open = true")
    with ExitStack() as stack:
        urls = []
        for node in ("a", "b"):
            settings = AionConfig.from_toml(config, data_dir=tmp_path / node)
            urls.append(stack.enter_context(serve(create_app(settings))))
        yield config, urls


def status(url: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{url}/v1/streams", headers=headers).status_code


def keys_cli(*args: str) -> str:
    result = runner.invoke(cli, ["keys", *args])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_a_key_made_with_the_config_works_on_every_server_and_revoking_it_reaches_all(
    cluster: tuple[Path, list[str]],
) -> None:
    config, urls = cluster
    token = keys_cli("create", "--config", str(config), "--namespace", "*", "--scopes", "admin")
    key_id = token.split("_")[1]
    # Neither server has a keys.db: both learn the key from the database.
    wait_until(lambda: all(status(url) == 401 for url in urls), "keys required everywhere")
    assert [status(url, token) for url in urls] == [200, 200]
    listed = keys_cli("list", "--config", str(config), "--json")
    assert key_id in listed

    keys_cli("revoke", key_id, "--config", str(config))
    wait_until(
        lambda: all(status(url, token) == 401 for url in urls), "the revoked key refused by all"
    )


def test_a_cluster_server_with_no_key_refuses_to_start(tmp_path: Path, fresh_database: str) -> None:
    config = write_config(tmp_path, fresh_database)
    args = ["serve", "--config", str(config), "--data", str(tmp_path), "--port", str(free_port())]
    proc = subprocess.Popen([sys.executable, "-m", "aion", *args], stderr=subprocess.PIPE)
    try:
        _, stderr = proc.communicate(timeout=DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("aion serve started with no key in the shared store") from None
    assert proc.returncode == 2
    message = " ".join(stderr.decode().split())  # the CLI wraps long messages
    assert "refusing to start open" in message
    assert f"aion keys create --config {config}" in message

    # An open cluster, said so, starts; so does one once a key exists.
    check_cluster_start(AionConfig.from_toml(write_config(tmp_path, fresh_database, "open = true")))
    keys_cli("create", "--config", str(config), "--namespace", "*", "--scopes", "admin")
    check_cluster_start(AionConfig.from_toml(config))


def test_a_cluster_server_that_got_past_the_start_check_still_never_serves_open(
    tmp_path: Path, fresh_database: str
) -> None:
    # As when the store was down at start-up (the check let it start) and came back empty:
    # not configured open, it refuses every keyed request rather than answering anyone.
    config = AionConfig.from_toml(write_config(tmp_path, fresh_database), data_dir=tmp_path)
    with serve(create_app(config)) as url:
        wait_until(lambda: status(url) != 503, "the keys read once")
        assert status(url) == 401
        token = keys_cli(
            "create",
            "--config",
            str(tmp_path / "aion.toml"),
            "--namespace",
            "*",
            "--scopes",
            "admin",
        )
        wait_until(lambda: status(url, token) == 200, "the new key accepted")


def test_a_cluster_server_whose_store_is_down_does_not_serve_open(tmp_path: Path) -> None:
    down = "postgresql://postgres@127.0.0.1:1/none?connect_timeout=1"
    path = write_config(tmp_path, down, 'streams = "memory://"')
    config = AionConfig.from_toml(path, data_dir=tmp_path)
    with serve(create_app(config)) as url:
        answer = httpx.get(f"{url}/v1/streams", timeout=30)
        assert answer.status_code == 503
        assert "API keys" in answer.text


def _kinesis(url: str, operation: str, body: dict[str, object]) -> dict[str, object]:
    answer = httpx.post(
        url,
        json=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": TARGET_PREFIX + operation,
        },
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, object] = answer.json()
    return result


def test_an_iterator_from_one_server_reads_on_the_other(cluster: tuple[Path, list[str]]) -> None:
    _, (a, b) = cluster
    created = httpx.post(f"{a}/v1/streams", json={"name": "orders", "shards": 1})
    assert created.status_code in (200, 201), created.text
    records = [{"partition_key": f"k{i}", "data": {"n": i}} for i in range(5)]
    put = httpx.post(f"{a}/v1/streams/orders/records", json={"records": records})
    assert put.status_code == 200, put.text

    # Native: an iterator from A, read on B, and B's next iterator read on A.
    first = httpx.post(f"{a}/v1/streams/orders/shards/0/iterator", json={"type": "TRIM_HORIZON"})
    assert first.status_code == 200, first.text
    read = httpx.post(
        f"{b}/v1/streams/orders/read", json={"iterator": first.json()["iterator"], "limit": 3}
    )
    assert read.status_code == 200, read.text
    assert [r["data"]["n"] for r in read.json()["records"]] == [0, 1, 2]
    rest = httpx.post(
        f"{a}/v1/streams/orders/read", json={"iterator": read.json()["next_iterator"]}
    )
    assert rest.status_code == 200, rest.text
    assert [r["data"]["n"] for r in rest.json()["records"]] == [3, 4]

    # Kinesis: GetShardIterator on A, GetRecords on B, then on A again.
    shard_iterator = _kinesis(
        a,
        "GetShardIterator",
        {"StreamName": "orders", "ShardId": "shardId-000000000000",
         "ShardIteratorType": "TRIM_HORIZON"},
    )["ShardIterator"]  # fmt: skip
    got = _kinesis(b, "GetRecords", {"ShardIterator": shard_iterator, "Limit": 2})
    assert isinstance(got["Records"], list)
    assert [base64.b64decode(r["Data"]) for r in got["Records"]] == [b'{"n":0}', b'{"n":1}']
    more = _kinesis(a, "GetRecords", {"ShardIterator": got["NextShardIterator"]})
    assert isinstance(more["Records"], list) and len(more["Records"]) == 3


def test_servers_that_share_only_redis_share_keys_and_iterators(tmp_path: Path) -> None:
    require("redis")
    keys_prefix, streams_prefix = unique("aion-test-keys:"), unique("aiontest:")
    config = tmp_path / "aion.toml"
    config.write_text(
        f'keys_store = "{REDIS_URL}?prefix={keys_prefix}"\n'
        f'streams = "{REDIS_URL}?prefix={streams_prefix}"\n',
        encoding="utf-8",
    )
    try:
        token = keys_cli("create", "--config", str(config), "--namespace", "*", "--scopes", "admin")
        auth = {"Authorization": f"Bearer {token}"}
        with ExitStack() as stack:
            a, b = (
                stack.enter_context(
                    serve(create_app(AionConfig.from_toml(config, data_dir=tmp_path / node)))
                )
                for node in ("a", "b")
            )
            # Each server has its own SQLite and no keys.db: both enforce the Redis keys.
            assert [status(a), status(b)] == [401, 401]
            assert [status(a, token), status(b, token)] == [200, 200]
            made = httpx.post(f"{a}/v1/streams", json={"name": "s", "shards": 1}, headers=auth)
            assert made.status_code in (200, 201), made.text
            put = {"partition_key": "k", "data": {"n": 1}}
            assert httpx.post(f"{a}/v1/streams/s/record", json=put, headers=auth).is_success
            it = httpx.post(
                f"{a}/v1/streams/s/shards/0/iterator", json={"type": "TRIM_HORIZON"}, headers=auth
            ).json()["iterator"]
            read = httpx.post(f"{b}/v1/streams/s/read", json={"iterator": it}, headers=auth)
            assert read.status_code == 200, read.text
            assert [r["data"] for r in read.json()["records"]] == [{"n": 1}]
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for prefix in (keys_prefix, streams_prefix):
            leftovers = list(client.scan_iter(match=f"{prefix}*"))
            if leftovers:
                client.delete(*leftovers)
        client.close()


def test_requests_that_arrive_together_at_a_new_server_wait_for_the_first_key_read(
    tmp_path: Path, fresh_database: str
) -> None:
    # The first read of the shared keys is under way when the others arrive: they wait for
    # it rather than answering 503 "cannot be read yet".
    config = AionConfig.from_toml(
        write_config(tmp_path, fresh_database, "open = true"), data_dir=tmp_path
    )

    async def together(url: str) -> list[int]:
        async with httpx.AsyncClient(timeout=DEADLINE_SECONDS) as http:
            answers = await asyncio.gather(*(http.get(f"{url}/v1/streams") for _ in range(16)))
        return [answer.status_code for answer in answers]

    with serve(create_app(config)) as url:
        assert asyncio.run(together(url)) == [200] * 16
