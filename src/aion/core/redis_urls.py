"""Redis clients from URLs, for every part of Aion that keeps data in Redis (the streams
engine, rollup backends, the shared keys store).

Two forms:

- ``redis://[user:password@]host:port/db`` (``rediss://`` for TLS, ``unix://`` for a socket):
  one Redis server, through redis-py's ``from_url``; its query options go to redis-py.
- ``redis+sentinel://[user:password@]host:26379,host2:26379/service/db`` (``rediss+sentinel``
  for TLS to the master): Redis Sentinel. The sentinels are asked which server is the master
  of ``service`` (``mymaster`` by default), and asked again after a failover, on the next
  connection. The user and password are the master's; ``?sentinel_password=`` is the
  sentinels' own, when they require one. ``socket_timeout`` and ``socket_connect_timeout``
  (seconds) may be given as options too.

Every client connects within :data:`CONNECT_TIMEOUT_SECONDS` (unless the URL says otherwise)
and retries a failed command at most :data:`RETRIES` times, briefly, on a fresh connection:
a restarted server is found again at once, a server that is down fails the request in well
under a second instead of after redis-py's default backoff of several seconds. Nothing is
given up for good: every later command connects anew.

redis-py is imported only when a client is made (it is an optional extra).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from aion.errors import ConfigurationError

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "REDIS_SCHEMES",
    "RETRIES",
    "SENTINEL_SCHEMES",
    "SentinelTarget",
    "async_redis",
    "is_redis_url",
    "parse_sentinel_url",
    "sync_redis",
]

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
REDIS_SCHEMES = ("redis", "rediss", *SENTINEL_SCHEMES)
"""The URL schemes of Redis (``unix://`` sockets are accepted where a socket makes sense)."""
CONNECT_TIMEOUT_SECONDS = 3.0
RETRIES = 1
SENTINEL_PORT = 26379
DEFAULT_SERVICE = "mymaster"
_SENTINEL_FLOATS = ("socket_timeout", "socket_connect_timeout")


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    """What a ``redis+sentinel://`` URL names."""

    sentinels: tuple[tuple[str, int], ...]
    service: str = DEFAULT_SERVICE
    db: int = 0
    username: str | None = None
    password: str | None = None
    ssl: bool = False
    sentinel_password: str | None = None
    options: dict[str, float] = field(default_factory=dict)


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def is_redis_url(url: str) -> bool:
    """Whether ``url`` names Redis (one server or Sentinel)."""
    return _scheme(url) in REDIS_SCHEMES


def _host_port(text: str, url: str) -> tuple[str, int]:
    if text.startswith("["):  # [IPv6]:port
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = text.rpartition(":") if ":" in text else (text, "", "")
    if not host:
        raise ConfigurationError(f"Redis Sentinel URL {url!r}: a sentinel has no host")
    try:
        port = int(port_text) if port_text else SENTINEL_PORT
    except ValueError:
        raise ConfigurationError(
            f"Redis Sentinel URL {url!r}: bad port {port_text!r} in {text!r}"
        ) from None
    return host, port


def parse_sentinel_url(url: str) -> SentinelTarget:
    """The sentinels, service, database and credentials of a ``redis+sentinel://`` URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SENTINEL_SCHEMES:
        raise ConfigurationError(f"{url!r} is not a redis+sentinel:// URL")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    sentinels = tuple(_host_port(h.strip(), url) for h in hosts.split(",") if h.strip())
    if not sentinels:
        raise ConfigurationError(f"Redis Sentinel URL {url!r} names no sentinel (host:port)")
    path = [p for p in parts.path.split("/") if p]
    if len(path) > 2:
        raise ConfigurationError(
            f"Redis Sentinel URL {url!r}: the path is /service/db, not {parts.path!r}"
        )
    service = unquote(path[0]) if path else DEFAULT_SERVICE
    try:
        db = int(path[1]) if len(path) > 1 else 0
    except ValueError:
        raise ConfigurationError(
            f"Redis Sentinel URL {url!r}: the database {path[1]!r} is not a number"
        ) from None
    sentinel_password: str | None = None
    options: dict[str, float] = {}
    for name, values in parse_qs(parts.query).items():
        value = values[-1]
        if name == "sentinel_password":
            sentinel_password = value
        elif name in _SENTINEL_FLOATS:
            try:
                options[name] = float(value)
            except ValueError:
                raise ConfigurationError(
                    f"Redis Sentinel URL {url!r}: {name} must be a number of seconds"
                ) from None
        else:
            raise ConfigurationError(
                f"Redis Sentinel URL {url!r}: unknown option {name!r} (known: "
                f"sentinel_password, {', '.join(_SENTINEL_FLOATS)})"
            )
    return SentinelTarget(
        sentinels,
        service,
        db,
        unquote(username) or None,
        unquote(password) or None,
        scheme == "rediss+sentinel",
        sentinel_password,
        options,
    )


def _defaults(given: dict[str, Any], asynchronous: bool) -> dict[str, Any]:
    """Connect timeout and a short retry, unless the caller chose its own."""
    if asynchronous:
        from redis.asyncio.retry import Retry
    else:
        from redis.retry import Retry
    from redis.backoff import ExponentialWithJitterBackoff

    kwargs: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.25), RETRIES),
    }
    kwargs.update(given)
    return kwargs


def _sentinel_kwargs(target: SentinelTarget, kwargs: dict[str, Any]) -> dict[str, Any]:
    master = {**kwargs, **target.options, "db": target.db, "ssl": target.ssl}
    if target.username:
        master["username"] = target.username
    if target.password:
        master["password"] = target.password
    return master


def _sentinel_side(target: SentinelTarget) -> dict[str, Any]:
    side: dict[str, Any] = {
        "socket_connect_timeout": target.options.get(
            "socket_connect_timeout", CONNECT_TIMEOUT_SECONDS
        ),
        "socket_timeout": target.options.get("socket_timeout", CONNECT_TIMEOUT_SECONDS),
    }
    if target.sentinel_password:
        side["password"] = target.sentinel_password
    return side


def sync_redis(url: str, **kwargs: Any) -> redis.Redis:
    """A ``redis.Redis`` for ``url`` (either form); ``kwargs`` go to redis-py. Closing it
    closes the connections to the sentinels too."""
    options = _defaults(kwargs, asynchronous=False)
    if _scheme(url) in SENTINEL_SCHEMES:
        from redis.sentinel import Sentinel, SentinelConnectionPool

        class Pool(SentinelConnectionPool):  # type: ignore[misc]
            def disconnect(self, inuse_connections: bool = True) -> None:
                super().disconnect(inuse_connections)
                for client in self.sentinel_manager.sentinels:
                    client.connection_pool.disconnect()

        target = parse_sentinel_url(url)
        sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=_sentinel_side(target))
        master: redis.Redis = sentinel.master_for(
            target.service, connection_pool_class=Pool, **_sentinel_kwargs(target, options)
        )
        return master
    import redis as redis_py

    return redis_py.Redis.from_url(url, **options)


def async_redis(url: str, **kwargs: Any) -> redis.asyncio.Redis:
    """A ``redis.asyncio.Redis`` for ``url`` (either form); ``kwargs`` go to redis-py.
    Closing it closes the connections to the sentinels too."""
    options = _defaults(kwargs, asynchronous=True)
    if _scheme(url) in SENTINEL_SCHEMES:
        from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

        class Pool(SentinelConnectionPool):  # type: ignore[misc]
            async def disconnect(self, inuse_connections: bool = True) -> None:
                await super().disconnect(inuse_connections)
                for client in self.sentinel_manager.sentinels:
                    await client.connection_pool.disconnect()

        target = parse_sentinel_url(url)
        sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=_sentinel_side(target))
        master: redis.asyncio.Redis = sentinel.master_for(
            target.service, connection_pool_class=Pool, **_sentinel_kwargs(target, options)
        )
        return master
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(url, **options)
