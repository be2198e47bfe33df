"""The SQL StreamLogs chosen by URL: ``sqlite:///path`` and ``postgresql://…``.

``aion.streams.registry.open_stream_log`` knows the other schemes; it may not import this
layer, so whoever sits above both (the server, the tests) passes ``SQL_STREAM_LOGS`` to it as
``extra``. ``open_sql_stream_log`` also takes the EventStore already open for the same URL,
so one store object serves the time API and the StreamLog.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from aion.core.streamlog import StreamLog
from aion.errors import ConfigurationError
from aion.storage.protocol import EventStore
from aion.storage.registry import open_event_store

__all__ = ["SQL_STREAM_LOGS", "open_sql_stream_log"]


def open_sql_stream_log(url: str, store: EventStore | None = None) -> StreamLog:
    """A (not yet opened) StreamLog over the SQL event tables at ``url``.

    With ``store`` (an EventStore of the same URL), the StreamLog shares it, and the store's
    owner opens and closes it; otherwise the StreamLog owns a store of its own.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise ConfigurationError(
            f"{url!r} is not an SQL stream-log URL (sqlite:/// or postgresql://)"
        )
    shared = store if store is not None else open_event_store(url)
    if scheme == "sqlite":
        from aion.storage.sqlite import SQLiteEventStore
        from aion.storage.sqlite_streams import SQLiteStreamLog

        if not isinstance(shared, SQLiteEventStore):
            raise ConfigurationError("a SQLite StreamLog needs a SQLiteEventStore to share")
        log: StreamLog = SQLiteStreamLog(shared, owns_store=store is None)
        return log
    from aion.storage.postgres import PostgresEventStore
    from aion.storage.postgres_streams import PostgresStreamLog

    if not isinstance(shared, PostgresEventStore):
        raise ConfigurationError("a PostgreSQL StreamLog needs a PostgresEventStore to share")
    return PostgresStreamLog(shared, owns_store=store is None)


SQL_STREAM_LOGS: Mapping[str, Callable[[str], StreamLog]] = {
    "sqlite": open_sql_stream_log,
    "postgresql": open_sql_stream_log,
    "postgres": open_sql_stream_log,
}
"""URL schemes → factories, for ``aion.streams.registry.open_stream_log(url, extra=…)``."""
