"""Pick a timeseries backend from a client object or a URL.

==================================== ===============================================
first argument                       backend
==================================== ===============================================
``"memory://"``                      a fresh in-memory store
a :class:`MemoryDatabase`            the in-memory store sharing that database
a ``redis.Redis`` client             Redis
``"redis://host:port/db"``           Redis, through ``redis.Redis.from_url``
``"redis+sentinel://h:26379/svc/0"`` Redis Sentinel (:mod:`aion.core.redis_urls`)
an SQLAlchemy ``Engine``             SQL (``table_name``, ``string_length``,
                                     ``text_length``, ``value_type`` options)
any SQLAlchemy URL                   SQL: ``sqlite:///x.db``, ``postgresql://...``,
                                     ``postgres://...``, ``mysql://...``,
                                     ``mysql+mysqldb://...`` (on Aion's drivers)
``mongodb://``, ``cassandra://``,    refused with :class:`UnsupportedBackend`, which
``cql://``, their clients            says what to use instead
==================================== ===============================================

``prefix=`` works on every backend, as Kairos's tests pass it everywhere: a key prefix on
Redis, a namespace inside a memory database, a table-name prefix on SQL. With a URL,
``client_config`` is passed to the driver's constructor, as in Kairos. Backend modules are
imported only when chosen, so a missing driver only matters if it is used.
"""

from __future__ import annotations

from typing import Any

from aion.errors import ConfigurationError, UnsupportedBackend
from aion.timeseries.backends.memory import MemoryDatabase, MemoryStore
from aion.timeseries.protocol import Kind, TimeseriesStore

__all__ = ["UnsupportedBackend", "open_store"]

_SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "oracle", "mssql")
# Kairos's other backends, by URL scheme and by client module: Aion stores neither.
_UNSUPPORTED = {
    "mongodb": "MongoDB",
    "mongodb+srv": "MongoDB",
    "pymongo": "MongoDB",
    "motor": "MongoDB",
    "cassandra": "Cassandra",
    "cql": "Cassandra",
}


def _from_url(kind: Kind, url: str, options: dict[str, Any]) -> TimeseriesStore:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    client_config = options.pop("client_config", None)
    if scheme in _UNSUPPORTED:
        raise UnsupportedBackend(_UNSUPPORTED[scheme])
    if scheme == "memory":
        if client_config:
            raise ConfigurationError("memory:// takes no client_config")
        return MemoryStore(kind, **options)
    if scheme in ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel"):
        from aion.timeseries.backends.redis import RedisStore

        return RedisStore.from_url(kind, url, client_config, **options)
    if "sql" in scheme or scheme.split("+", 1)[0] in _SQL_SCHEMES:
        from aion.timeseries.backends.sql import SqlStore

        return SqlStore.from_url(kind, url, client_config, **options)
    raise ConfigurationError(
        f"unknown timeseries URL {url!r}: use memory://, redis://... or an SQLAlchemy URL"
    )


def open_store(kind: Kind, client: Any, options: dict[str, Any]) -> TimeseriesStore:
    """The store for ``client`` (an object or a URL) with backend ``options``."""
    try:
        if isinstance(client, str):
            return _from_url(kind, client, dict(options))
        if isinstance(client, MemoryDatabase):
            return MemoryStore(kind, client, **options)
        module = type(client).__module__.split(".", 1)[0]
        if module in _UNSUPPORTED:
            raise UnsupportedBackend(_UNSUPPORTED[module])
        if module == "redis":
            from aion.timeseries.backends.redis import RedisStore

            return RedisStore(kind, client, **options)
        if module == "sqlalchemy":
            from aion.timeseries.backends.sql import SqlStore

            return SqlStore(kind, client, **options)
    except TypeError as exc:
        # An unexpected keyword: say which, rather than a bare TypeError.
        raise ConfigurationError(f"bad timeseries backend option: {exc}") from exc
    raise ConfigurationError(
        f"unsupported timeseries client {type(client).__name__}: pass a redis.Redis client, "
        "an SQLAlchemy Engine, a MemoryDatabase or a URL"
    )
