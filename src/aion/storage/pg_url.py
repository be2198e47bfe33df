"""Aion's own settings on a ``postgresql://`` URL, taken off before libpq sees the URL.

- ``pool_size=N``: connections each store keeps at most (default 8, 1 to 1000).
- ``read_only=true``: the database is a read replica (or may only be read): no tables are
  made, and writes are refused with a clear error instead of PostgreSQL's. Without the flag,
  a server in recovery (``pg_is_in_recovery()``) or whose sessions default to read-only
  transactions (``default_transaction_read_only``) is taken as read-only too.

Every other query parameter is libpq's (``sslmode``, ``application_name``, …) and stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aion.errors import ConfigurationError

__all__ = ["DEFAULT_POOL_SIZE", "MAX_POOL_SIZE", "PgSettings", "conninfo", "parse_pg_url"]

DEFAULT_POOL_SIZE = 8
MAX_POOL_SIZE = 1000
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


@dataclass(frozen=True, slots=True)
class PgSettings:
    """What the URL asked of Aion; ``read_only`` is None when it did not say."""

    pool_size: int = DEFAULT_POOL_SIZE
    read_only: bool | None = None


def parse_pg_url(url: str) -> tuple[str, PgSettings]:
    """The URL for libpq (``postgres://`` spelled ``postgresql://``, Aion's settings removed)
    and the settings. Raises ``ConfigurationError`` naming the setting when one is wrong."""
    url = url.replace("postgres://", "postgresql://", 1)
    parts = urlsplit(url)
    kept: list[tuple[str, str]] = []
    pool_size = DEFAULT_POOL_SIZE
    read_only: bool | None = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "pool_size":
            pool_size = _pool_size(value)
        elif key == "read_only":
            read_only = _flag(key, value)
        else:
            kept.append((key, value))
    clean = urlunsplit(parts._replace(query=urlencode(kept)))
    return clean, PgSettings(pool_size, read_only)


def conninfo(url: str) -> str:
    """``url`` as libpq takes it (without Aion's settings)."""
    return parse_pg_url(url)[0]


def _pool_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_POOL_SIZE:
        raise ConfigurationError(
            f"postgresql URL: pool_size must be an integer from 1 to {MAX_POOL_SIZE}, not {value!r}"
        )
    return size


def _flag(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"postgresql URL: {key} must be true or false, not {value!r}")
