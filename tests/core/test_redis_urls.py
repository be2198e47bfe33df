"""Redis URLs: ``redis+sentinel://`` parsed plainly, and each Redis engine (streams, rollup
backend, keys store) working through a real local Sentinel (``redis-server --sentinel``) that
watches the local Redis."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aion.core.redis_urls import SentinelTarget, is_redis_url, parse_sentinel_url, sync_redis
from aion.errors import ConfigurationError
from aion.server.ops.auth_rules import Scope
from aion.server.ops.keys_redis import RedisKeyStore
from aion.streams.protocol import TRIM_HORIZON, AppendRecord
from aion.timeseries import Timeseries
from tests.support.backends import unique
from tests.support.services import REDIS_URL, require
from tests.support.stream_logs import opened


def test_a_sentinel_url_names_sentinels_service_database_and_credentials() -> None:
    target = parse_sentinel_url(
        "redis+sentinel://app:s%40cret@10.0.0.1:26379,10.0.0.2,[::1]:26380/cache/2"
        "?sentinel_password=x&socket_timeout=1.5"
    )
    assert target == SentinelTarget(
        sentinels=(("10.0.0.1", 26379), ("10.0.0.2", 26379), ("::1", 26380)),
        service="cache",
        db=2,
        username="app",
        password="s@cret",
        ssl=False,
        sentinel_password="x",
        options={"socket_timeout": 1.5},
    )
    plain = parse_sentinel_url("rediss+sentinel://h")
    assert (plain.service, plain.db, plain.ssl, plain.sentinels) == (
        "mymaster",
        0,
        True,
        (("h", 26379),),
    )
    assert is_redis_url("redis+sentinel://h/m") and is_redis_url("rediss://h")
    assert not is_redis_url("nats://h")


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("redis+sentinel:///mymaster", "names no sentinel"),
        ("redis+sentinel://h:x/mymaster", "bad port"),
        ("redis+sentinel://h/mymaster/zero", "not a number"),
        ("redis+sentinel://h/a/0/extra", "/service/db"),
        ("redis+sentinel://h/m?db=3", "unknown option 'db'"),
        ("redis+sentinel://h/m?socket_timeout=soon", "socket_timeout"),
        ("redis://h/0", "not a redis\\+sentinel"),
    ],
)
def test_a_bad_sentinel_url_is_refused_naming_what_is_wrong(url: str, named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        parse_sentinel_url(url)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Sentinel watching the local Redis as ``mymaster``: its ``redis+sentinel://`` URL."""
    require("redis")
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (it runs a Sentinel with --sentinel)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    host, _, redis_port = REDIS_URL.split("://", 1)[1].split("/", 1)[0].partition(":")
    directory = tmp_path_factory.mktemp("sentinel")
    conf = directory / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
        f"sentinel monitor mymaster {host} {redis_port or 6379} 1\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for_sentinel(port, proc)
        yield f"redis+sentinel://127.0.0.1:{port}/mymaster/0"
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)


def _wait_for_sentinel(port: int, proc: subprocess.Popen[bytes]) -> None:
    import redis

    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, "the sentinel exited"
        with contextlib.suppress(redis.exceptions.RedisError):
            client = redis.Redis(port=port, socket_connect_timeout=1)
            try:
                if client.sentinel_get_master_addr_by_name("mymaster"):
                    return
            finally:
                client.close()
        assert time.monotonic() < deadline, "the sentinel did not come up"
        time.sleep(0.05)


@pytest.mark.service
def test_a_client_from_a_sentinel_url_talks_to_the_master(sentinel: str) -> None:
    client = sync_redis(sentinel)
    try:
        key = f"aiontest-{uuid.uuid4().hex}"
        assert client.set(key, b"1", ex=60)
        direct = sync_redis(REDIS_URL)
        assert direct.get(key) == b"1"  # the very Redis the sentinel watches
        direct.delete(key)
        direct.close()
    finally:
        client.close()


@pytest.mark.service
async def test_streams_on_redis_through_sentinel(sentinel: str) -> None:
    ns = unique("ns")
    async with opened(f"{sentinel}?prefix=aiontest-{ns}:", ns) as log:
        await log.create_stream(ns, "s", shards=2)
        await log.append(ns, "s", [AppendRecord(f"k{i}", b"%d" % i) for i in range(10)])
        found = []
        for shard in range(2):
            found += [r.data for r in (await log.read(ns, "s", shard, TRIM_HORIZON)).records]
        assert sorted(found) == sorted(b"%d" % i for i in range(10))


@pytest.mark.service
def test_a_rollup_backend_on_redis_through_sentinel(sentinel: str) -> None:
    prefix = f"aiontest-{uuid.uuid4().hex[:10]}"
    ts = Timeseries(sentinel, type="count", prefix=prefix, intervals={"minute": {"step": 60}})
    try:
        ts.insert("clicks", 1, timestamp=time.time())
        assert ts.list() == ["clicks"]
        ts.delete("clicks")
    finally:
        ts.close()


@pytest.mark.service
def test_the_keys_store_on_redis_through_sentinel(sentinel: str, tmp_path: Path) -> None:
    store = RedisKeyStore(f"{sentinel}?prefix=aiontest-{uuid.uuid4().hex[:10]}:")
    key, token = store.create("*", frozenset({Scope.READ}))
    assert token.endswith(token.rsplit("_", 1)[-1])
    assert [k.key_id for k in store.list_keys()] == [key.key_id]
    store.revoke(key.key_id)
    assert "Redis" in store.where
