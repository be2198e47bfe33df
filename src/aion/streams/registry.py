"""StreamLog backends chosen by URL: ``memory://``, ``redis://…``, ``nats://…``,
``sqlite:///path`` and ``postgresql://…``.

The SQL stream logs are views over the event tables, so they compose an EventStore of
:mod:`aion.storage`: the one passed as ``store`` (the caller's, already serving the time API
for the same URL) or one of their own. Optional drivers are imported only when their backend
is asked for; a missing one raises a ConfigurationError naming the extra.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from aion.errors import ConfigurationError
from aion.storage.protocol import EventStore
from aion.streams.protocol import StreamLog

__all__ = ["SCHEMES", "SQL_SCHEMES", "open_stream_log", "url_options"]

SQL_SCHEMES = ("sqlite", "postgresql", "postgres")
"""The schemes whose stream log lives in the event tables (and can share an EventStore)."""

SCHEMES = (
    "memory", "redis", "rediss", "redis+sentinel", "rediss+sentinel", "nats", "tls", *SQL_SCHEMES
)  # fmt: skip


def url_options(url: str) -> dict[str, str]:
    """The query parameters of a backend URL (the last value of each wins)."""
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def open_stream_log(url: str, *, store: EventStore | None = None) -> StreamLog:
    """A (not yet opened) StreamLog for ``url``.

    - ``memory://``
    - ``redis://host:port/db?prefix=aion:`` (needs ``pip install 'aion[redis]'``)
      or Redis Sentinel: ``redis+sentinel://host:26379,host2:26379/mymaster/0``
    - ``nats://host:port?prefix=AION`` (needs ``pip install 'aion[nats]'``), or a cluster:
      ``nats://a:4222,nats://b:4222``
    - ``sqlite:///path.db`` and ``postgresql://…`` (the latter needs
      ``pip install 'aion[postgres]'``)

    With ``store`` (an EventStore of the same URL), an SQL stream log shares it and the
    store's owner opens and closes it; otherwise it owns a store of its own. The other
    backends keep their own data and ignore ``store``.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from aion.streams.backends.memory import MemoryStreamLog

        return MemoryStreamLog()
    if scheme in ("redis", "rediss", "redis+sentinel", "rediss+sentinel"):
        try:
            from aion.streams.backends.redis import RedisStreamLog
        except ImportError as exc:
            raise ConfigurationError(
                "the Redis stream backend needs redis-py: pip install 'aion[redis]'"
            ) from exc
        return RedisStreamLog.from_url(url)
    if scheme in ("nats", "tls"):
        try:
            from aion.streams.backends.nats import NatsStreamLog
        except ImportError as exc:
            raise ConfigurationError(
                "the NATS stream backend needs nats-py: pip install 'aion[nats]'"
            ) from exc
        return NatsStreamLog.from_url(url)
    if scheme in SQL_SCHEMES:
        return _open_sql(url, scheme, store)
    raise ConfigurationError(
        f"unknown stream-log URL scheme {scheme!r} in {url!r}; use memory://, redis://, "
        "nats://, sqlite:/// or postgresql://"
    )


def _open_sql(url: str, scheme: str, store: EventStore | None) -> StreamLog:
    """The StreamLog over the SQL event tables at ``url``, sharing ``store`` when given."""
    from aion.storage.registry import open_event_store

    shared = store if store is not None else open_event_store(url)
    if scheme == "sqlite":
        from aion.storage.backends.sqlite import SQLiteEventStore
        from aion.streams.backends.sqlite import SQLiteStreamLog

        if not isinstance(shared, SQLiteEventStore):
            raise ConfigurationError("a SQLite StreamLog needs a SQLiteEventStore to share")
        log: StreamLog = SQLiteStreamLog(shared, owns_store=store is None)
        return log
    from aion.storage.backends.postgres import PostgresEventStore
    from aion.streams.backends.postgres import PostgresStreamLog

    if not isinstance(shared, PostgresEventStore):
        raise ConfigurationError("a PostgreSQL StreamLog needs a PostgresEventStore to share")
    return PostgresStreamLog(shared, owns_store=store is None)
