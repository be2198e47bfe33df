"""Backends chosen by URL: ``memory://``, ``sqlite:///path``, ``postgresql://…``.

Optional drivers are imported only when their backend is asked for; a missing one raises a
ConfigurationError naming the pip extra.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from aion.errors import ConfigurationError
from aion.storage.protocol import EventStore

__all__ = ["SCHEMES", "open_event_store"]

SCHEMES = ("memory", "sqlite", "postgresql", "postgres")


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def open_event_store(url: str) -> EventStore:
    """A (not yet opened) EventStore for ``url``.

    - ``memory://`` or ``memory://?max_items=N``
    - ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, optional
      ``?synchronous=FULL``
    - ``postgresql://user@host:port/db`` (needs ``pip install 'aion[postgres]'``)
    """
    scheme = urlsplit(url).scheme.lower()
    options = _query(url)
    if scheme == "memory":
        from aion.storage.backends.memory import MemoryEventStore

        max_items = options.get("max_items")
        try:
            return MemoryEventStore(int(max_items) if max_items else None)
        except ValueError as exc:
            raise ConfigurationError(
                f"memory store: max_items must be a positive integer: {url}"
            ) from exc
    if scheme == "sqlite":
        from aion.storage.backends.sqlite import SQLiteEventStore

        path = url.split("://", 1)[1].split("?", 1)[0]
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise ConfigurationError(f"sqlite store: no file path in {url!r}")
        try:
            return SQLiteEventStore(path, synchronous=options.get("synchronous", "NORMAL"))
        except ValueError as exc:
            raise ConfigurationError(f"sqlite store: {exc}") from exc
    if scheme in ("postgresql", "postgres"):
        try:
            from aion.storage.backends.postgres import PostgresEventStore
        except ImportError as exc:
            raise ConfigurationError(
                "the PostgreSQL backend needs psycopg: pip install 'aion[postgres]'"
            ) from exc
        return PostgresEventStore(url)
    raise ConfigurationError(
        f"unknown storage URL scheme {scheme!r} in {url!r}; use one of memory://, sqlite:///, "
        "postgresql://"
    )
