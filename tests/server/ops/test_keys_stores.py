"""The keys store contract, run on the local ``keys.db`` and on a cluster's PostgreSQL store;
and which store a configuration chooses."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from aion.errors import ConfigurationError, NotFound, ValidationError
from aion.server.config import AionConfig
from aion.server.ops.auth_rules import Scope
from aion.server.ops.keys import ApiKeyStore, KeyStore, split_token
from aion.server.ops.keys_cluster import open_key_store, shared_store_backend
from aion.server.ops.keys_postgres import PostgresKeyStore
from aion.server.ops.keys_redis import RedisKeyStore
from tests.support.services import REDIS_URL, require

R, W, A = Scope.READ, Scope.WRITE, Scope.ADMIN


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.service),
        pytest.param("redis", marks=pytest.mark.service),
    ]
)
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a store keeps its keys: a data directory, a PostgreSQL URL, or a Redis URL with
    a prefix of its own (removed afterwards)."""
    if request.param == "sqlite":
        yield str(tmp_path)
    elif request.param == "postgresql":
        yield request.getfixturevalue("fresh_database")
    else:
        require("redis")
        prefix = f"aion-test:{uuid.uuid4().hex[:10]}:"
        yield f"{REDIS_URL}?prefix={prefix}"
        client = redis.Redis.from_url(REDIS_URL)
        leftovers = list(client.scan_iter(match=f"{prefix}*"))
        if leftovers:
            client.delete(*leftovers)
        client.close()


def store_at(place: str) -> ApiKeyStore:
    """A new store object on ``place`` (two objects on one place are two servers)."""
    if place.startswith("redis"):
        return RedisKeyStore(place)
    return PostgresKeyStore(place, "pg") if "://" in place else KeyStore(place)


def test_create_list_revoke_load(place: str) -> None:
    store = store_at(place)
    assert not store.any_keys()
    assert store.list_keys() == []
    assert store.load_active() == {}
    before = store.version()
    key, token = store.create("shop", frozenset({R, W}))
    parts = split_token(token)
    assert parts is not None and parts[0] == key.key_id
    other = store_at(place)  # another server's view of the same store
    assert other.any_keys()
    assert other.version() != before
    (listed,) = other.list_keys()
    assert (listed.key_id, listed.namespace, listed.scopes) == (key.key_id, "shop", {R, W})
    active = other.load_active()
    assert active[key.key_id].matches(parts[1])
    assert not active[key.key_id].matches(parts[1] + "x")
    assert active[key.key_id].grant.scopes == {R, W}

    changed = other.version()
    revoked = other.revoke(key.key_id)
    assert revoked.revoked is not None
    assert store.version() != changed
    assert store.load_active() == {}
    assert store.any_keys()  # a revoked key still counts: the server stays closed
    assert store.revoke(key.key_id).revoked == revoked.revoked  # idempotent
    with pytest.raises(NotFound):
        store.revoke("0123456789ab")


def test_refuses_bad_keys(place: str) -> None:
    store = store_at(place)
    with pytest.raises(ValidationError) as bad:
        store.create("a b", frozenset({R}))
    assert bad.value.field == "namespace"
    with pytest.raises(ValidationError) as none:
        store.create("*", frozenset())
    assert none.value.field == "scopes"


def test_record_use_keeps_the_latest(place: str) -> None:
    store = store_at(place)
    key, _ = store.create("*", frozenset({A}))
    store.record_use({key.key_id: 200.0})
    store.record_use({key.key_id: 100.0})
    (listed,) = store.list_keys()
    assert listed.last_used == 200.0


def test_a_shared_secret_is_made_once_and_the_first_writer_wins(place: str) -> None:
    results: list[str] = []
    lock = threading.Lock()

    def ask() -> None:
        value = store_at(place).shared_secret("iterators")
        with lock:
            results.append(value)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and len(set(results)) == 1
    assert len(results[0]) >= 40
    assert store_at(place).shared_secret("iterators") == results[0]
    assert store_at(place).shared_secret("other") != results[0]


def _config(tmp_path: Path, **raw: object) -> AionConfig:
    return AionConfig.from_mapping(dict(raw), data_dir=tmp_path)


def test_which_store_a_configuration_uses(tmp_path: Path) -> None:
    pg = "postgresql://postgres@127.0.0.1/aion"
    local = f"sqlite:///{tmp_path}/a.db"
    # One machine: the data directory's keys.db.
    assert shared_store_backend(AionConfig.for_data_dir(tmp_path)) is None
    assert isinstance(open_key_store(AionConfig.for_data_dir(tmp_path)), KeyStore)
    # Reads from PostgreSQL: the servers are a cluster, keys live in that database.
    cluster = _config(tmp_path, backends={"pg": pg})
    assert shared_store_backend(cluster) == "pg"
    assert isinstance(open_key_store(cluster), PostgresKeyStore)
    # PostgreSQL only as a copy beside local reads: still one machine, unless named.
    copy = _config(tmp_path, backends={"local": local, "pg": pg})
    assert shared_store_backend(copy) is None
    assert shared_store_backend(_config(tmp_path, backends={"local": local, "pg": pg},
                                        keys_store="pg")) == "pg"  # fmt: skip
    assert shared_store_backend(_config(tmp_path, backends={"pg": pg}, keys_store="local")) is None
    # Reads from a replica: keys are written, so they live on the primary the route writes.
    replica = f"{pg}?read_only=true"
    routes = [{"namespace": "*", "prefix": "", "backends": ["primary"], "read_backend": "replica"}]
    read_from_replica = _config(
        tmp_path, backends={"primary": pg, "replica": replica}, routes=routes
    )
    assert shared_store_backend(read_from_replica) == "primary"
    routes[0]["backends"] = ["replica"]
    with pytest.raises(ConfigurationError, match="keys_store"):
        shared_store_backend(_config(tmp_path, backends={"replica": replica}, routes=routes))
    # Servers that share only Redis.
    only_redis = _config(tmp_path, keys_store="redis://127.0.0.1:6379/0?prefix=shop:")
    assert isinstance(open_key_store(only_redis), RedisKeyStore)


def test_bad_keys_store_settings_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="keys_store"):
        _config(tmp_path, keys_store="nowhere")
    with pytest.raises(ConfigurationError, match=r"keys_store.*not PostgreSQL"):
        shared_store_backend(_config(tmp_path, backends={"m": "memory://"}, keys_store="m"))
    with pytest.raises(ConfigurationError, match="not a redis:// URL"):
        shared_store_backend(_config(tmp_path, keys_store="mysql://root@127.0.0.1/test"))
    with pytest.raises(ConfigurationError, match="open must be true or false"):
        _config(tmp_path, open="yes")
