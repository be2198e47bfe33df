"""Which keys store a configuration uses, and the start rule of a cluster.

A server is *configured for a cluster* when it has a shared store: what ``keys_store`` in
``aion.toml`` names (a PostgreSQL backend, or a ``redis://`` URL for servers that share only
Redis), or else the read backend of the default route when that is PostgreSQL (servers that
read their events from one database are one cluster); when that backend is a replica
(``?read_only=true``), the route's first writable PostgreSQL backend. Its API keys and the
secret that signs shard iterators then live in that store, so every server enforces the
same keys and accepts the others' iterators. ``keys_store = "local"`` keeps them in
``<data dir>/keys.db`` whatever the backends are.

A cluster server refuses to start while the shared store holds no key, unless ``open = true``
says an open cluster is intended: one server without keys would answer anyone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aion.core.redis_urls import is_redis_url
from aion.errors import BackendUnavailable, ConfigurationError
from aion.server.config import AionConfig
from aion.server.ops.keys import ApiKeyStore, KeyStore
from aion.storage.pg_url import parse_pg_url

__all__ = [
    "LOCAL_REFRESH_SECONDS",
    "SHARED_REFRESH_SECONDS",
    "check_cluster_start",
    "open_key_store",
    "shared_store_backend",
]

SHARED_REFRESH_SECONDS = 2.0
"""How often a server re-reads the keys of a shared store: a key created or revoked on one
server is enforced by every server within this time."""
LOCAL_REFRESH_SECONDS = 1.0
"""How often a server looks at its local ``keys.db`` (4 header bytes)."""

_POSTGRES = ("postgresql", "postgres")


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _is_postgres(url: str) -> bool:
    return _scheme(url) in _POSTGRES


def shared_store_backend(config: AionConfig) -> str | None:
    """The shared keys store (a [backends] name, or a Redis URL), or None for the local
    ``keys.db``."""
    if config.keys_store == "local":
        return None
    if config.keys_store is not None and "://" in config.keys_store:
        if not is_redis_url(config.keys_store):
            raise ConfigurationError(
                f"keys_store: {config.keys_store!r} is not a redis:// URL; name a PostgreSQL "
                "backend, give a Redis URL, or keep keys 'local'"
            )
        return config.keys_store
    if config.keys_store is not None:
        if not _is_postgres(config.backends[config.keys_store]):
            raise ConfigurationError(
                f"keys_store names backend {config.keys_store!r}, which is not PostgreSQL; "
                "keys can be shared through a PostgreSQL backend or Redis, or kept 'local'"
            )
        return config.keys_store
    default = next(r for r in config.routes if r.namespace == "*" and not r.prefix)
    if not _is_postgres(config.backends[default.read_backend]):
        return None
    if _writable(config.backends[default.read_backend]):
        return default.read_backend
    # Reads come from a replica marked read_only: keys are written, so they live on the
    # route's first writable PostgreSQL backend (the primary).
    primaries = [
        name
        for name in default.backends
        if _is_postgres(config.backends[name]) and _writable(config.backends[name])
    ]
    if not primaries:
        raise ConfigurationError(
            f"keys_store: the default route reads from the read-only {default.read_backend!r} "
            "and writes to no other PostgreSQL backend; name one with keys_store"
        )
    return primaries[0]


def _writable(url: str) -> bool:
    """Whether a PostgreSQL URL is not marked ``read_only=true`` (a replica)."""
    return parse_pg_url(url)[1].read_only is not True


def open_key_store(config: AionConfig) -> ApiKeyStore:
    """The keys store of ``config``: the shared one of a cluster, or the data directory's."""
    backend = shared_store_backend(config)
    if backend is None:
        return KeyStore(config.data_dir)
    if "://" in backend:
        from aion.server.ops.keys_redis import RedisKeyStore

        return RedisKeyStore(backend)
    from aion.server.ops.keys_postgres import PostgresKeyStore

    return PostgresKeyStore(config.backends[backend], backend)


def check_cluster_start(config: AionConfig, config_path: str = "aion.toml") -> None:
    """Raise ``ConfigurationError`` when a cluster server would start open: a shared store
    with no key in it and no ``open = true``. A store that cannot be reached does not stop the
    start (the server then refuses requests with 503 until it can read the keys)."""
    backend = shared_store_backend(config)
    if backend is None or config.open_access:
        return
    store = open_key_store(config)
    try:
        if store.any_keys():
            return
    except BackendUnavailable:
        return
    raise ConfigurationError(
        f"refusing to start open: this server shares its keys through {store.where}, "
        "which holds no API key, so any server of the cluster would answer anyone. Create "
        f"one (aion keys create --config {config_path} --namespace '*' --scopes admin), or "
        "set open = true in the config if an open cluster is intended"
    )
