"""StreamLog backends chosen by URL: ``memory://``, ``redis://…``, ``nats://…``.

The SQL backends (``sqlite:///path``, ``postgresql://…``) live in ``aion.storage`` beside the
event tables they share; this layer may not import that one, so the caller above both passes
``aion.storage.url_streams.SQL_STREAM_LOGS`` as ``extra``. Optional drivers are imported only
when their backend is asked for; a missing one raises a ConfigurationError naming the extra.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from aion.core.streamlog import StreamLog
from aion.errors import ConfigurationError

__all__ = ["SCHEMES", "open_stream_log", "url_options"]

SCHEMES = ("memory", "redis", "rediss", "nats", "tls")


def url_options(url: str) -> dict[str, str]:
    """The query parameters of a backend URL (the last value of each wins)."""
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def open_stream_log(
    url: str, extra: Mapping[str, Callable[[str], StreamLog]] | None = None
) -> StreamLog:
    """A (not yet opened) StreamLog for ``url``.

    - ``memory://``
    - ``redis://host:port/db?prefix=aion:`` (needs ``pip install 'aion[redis]'``)
    - ``nats://host:port?prefix=AION`` (needs ``pip install 'aion[nats]'``)
    - any scheme in ``extra`` (the SQL backends: ``sqlite:///path``, ``postgresql://…``)
    """
    scheme = urlsplit(url).scheme.lower()
    if extra and scheme in extra:
        return extra[scheme](url)
    if scheme == "memory":
        from aion.streams.memory import MemoryStreamLog

        return MemoryStreamLog()
    if scheme in ("redis", "rediss"):
        try:
            from aion.streams.redis import RedisStreamLog
        except ImportError as exc:
            raise ConfigurationError(
                "the Redis stream backend needs redis-py: pip install 'aion[redis]'"
            ) from exc
        return RedisStreamLog.from_url(url)
    if scheme in ("nats", "tls"):
        try:
            from aion.streams.nats import NatsStreamLog
        except ImportError as exc:
            raise ConfigurationError(
                "the NATS stream backend needs nats-py: pip install 'aion[nats]'"
            ) from exc
        return NatsStreamLog.from_url(url)
    if scheme in ("sqlite", "postgresql", "postgres"):
        raise ConfigurationError(
            f"{scheme}:// stream logs live in aion.storage: pass "
            "extra=aion.storage.url_streams.SQL_STREAM_LOGS"
        )
    raise ConfigurationError(
        f"unknown stream-log URL scheme {scheme!r} in {url!r}; use memory://, redis://, "
        "nats://, sqlite:/// or postgresql://"
    )
