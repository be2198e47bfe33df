"""API keys and a cluster's shared secrets in Redis, for servers that share only Redis.

Everything sits under one key prefix (``aion:keys:`` unless the URL says ``?prefix=...``):

- ``<prefix>keys``: a hash, key id → the key as JSON (its secret only as SHA-256, hex);
- ``<prefix>revoked`` and ``<prefix>used``: hashes, key id → when it was revoked (the first
  revocation wins) and last used (the latest wins);
- ``<prefix>version``: a counter every create and revoke increments, which servers poll;
- ``<prefix>secrets``: a hash, name → a shared secret, set only if absent (the first writer
  wins).

Each call uses a client with short connect and read timeouts; a failure is
``BackendUnavailable``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import redis
import redis.exceptions

from aion.core.redis_urls import sync_redis
from aion.errors import BackendUnavailable, NotFound
from aion.server.ops.auth_rules import Grant, Scope
from aion.server.ops.keys import (
    TOKEN_PREFIX,
    ApiKey,
    StoredKey,
    check_new_key,
    new_key_id,
    new_secret,
    scopes_of,
    scopes_text,
    token_digest,
)

__all__ = ["DEFAULT_PREFIX", "RedisKeyStore"]

DEFAULT_PREFIX = "aion:keys:"
TIMEOUT_SECONDS = 3.0
_KEEP_LATEST = """
local now = redis.call('HGET', KEYS[1], ARGV[1])
if not now or tonumber(now) < tonumber(ARGV[2]) then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 0
"""


def _url_and_prefix(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    prefix = query.pop("prefix", [DEFAULT_PREFIX])[-1]
    rest = "&".join(f"{k}={v}" for k, values in query.items() for v in values)
    return urlunsplit(parts._replace(query=rest)), prefix


class RedisKeyStore:
    """The keys of every server that shares the Redis at ``url``
    (:class:`~aion.server.ops.keys.ApiKeyStore`)."""

    def __init__(self, url: str) -> None:
        self.url, self.prefix = _url_and_prefix(url)
        parts = urlsplit(self.url)
        self._shown = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))

    @property
    def where(self) -> str:
        return f"Redis {self._shown} (prefix {self.prefix!r})"

    def _key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @contextmanager
    def _client(self) -> Iterator[redis.Redis]:
        client = sync_redis(
            self.url,
            socket_connect_timeout=TIMEOUT_SECONDS,
            socket_timeout=TIMEOUT_SECONDS,
            decode_responses=True,
        )
        try:
            yield client
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise BackendUnavailable("redis", f"the keys store failed: {exc}") from exc
        finally:
            client.close()

    def create(self, namespace: str, scopes: frozenset[Scope]) -> tuple[ApiKey, str]:
        """A new key; returns it with its token, which is shown once and never stored."""
        check_new_key(namespace, scopes)
        secret = new_secret()
        created = time.time()
        record = {
            "secret_sha256": token_digest(secret).hex(),
            "namespace": namespace,
            "scopes": scopes_text(scopes),
            "created": created,
        }
        with self._client() as client:
            while True:
                key_id = new_key_id()
                if client.hsetnx(self._key("keys"), key_id, json.dumps(record)):
                    break  # else an id collision (one in 2**48): draw again
            client.incr(self._key("version"))
        key = ApiKey(key_id, namespace, scopes, created)
        return key, f"{TOKEN_PREFIX}_{key_id}_{secret}"

    def _records(self, client: redis.Redis) -> dict[str, dict[str, Any]]:
        raw: dict[str, str] = client.hgetall(self._key("keys"))
        return {key_id: json.loads(text) for key_id, text in raw.items()}

    def _listed(
        self, key_id: str, record: dict[str, Any], revoked: str | None, used: str | None
    ) -> ApiKey:
        return ApiKey(
            key_id,
            str(record["namespace"]),
            scopes_of(str(record["scopes"])),
            float(record["created"]),
            None if revoked is None else float(revoked),
            None if used is None else float(used),
        )

    def list_keys(self) -> list[ApiKey]:
        """Every key, revoked ones too, oldest first."""
        with self._client() as client:
            records = self._records(client)
            revoked: dict[str, str] = client.hgetall(self._key("revoked"))
            used: dict[str, str] = client.hgetall(self._key("used"))
        keys = [self._listed(k, r, revoked.get(k), used.get(k)) for k, r in records.items()]
        return sorted(keys, key=lambda key: (key.created, key.key_id))

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key (idempotent); ``NotFound`` for an unknown id."""
        with self._client() as client:
            text: str | None = client.hget(self._key("keys"), key_id)
            if text is None:
                raise NotFound(f"no API key {key_id!r}")
            if client.hsetnx(self._key("revoked"), key_id, repr(time.time())):
                client.incr(self._key("version"))
            revoked: str | None = client.hget(self._key("revoked"), key_id)
            used: str | None = client.hget(self._key("used"), key_id)
        return self._listed(key_id, json.loads(text), revoked, used)

    def any_keys(self) -> bool:
        """Whether a key was ever created here (revoked ones count)."""
        with self._client() as client:
            return int(client.hlen(self._key("keys"))) > 0

    def load_active(self) -> dict[str, StoredKey]:
        """The active keys by id."""
        with self._client() as client:
            records = self._records(client)
            revoked: dict[str, str] = client.hgetall(self._key("revoked"))
        return {
            key_id: StoredKey(
                Grant(key_id, str(record["namespace"]), scopes_of(str(record["scopes"]))),
                bytes.fromhex(str(record["secret_sha256"])),
            )
            for key_id, record in records.items()
            if key_id not in revoked
        }

    def record_use(self, last_used: Mapping[str, float]) -> None:
        """Store the times keys were last used (the latest wins)."""
        if not last_used:
            return
        with self._client() as client:
            keep_latest = client.register_script(_KEEP_LATEST)
            for key_id, when in last_used.items():
                keep_latest(keys=[self._key("used")], args=[key_id, repr(when)])

    def version(self) -> int:
        """The change counter: moves on every create and revoke."""
        with self._client() as client:
            value: str | None = client.get(self._key("version"))
        return int(value or 0)

    def shared_secret(self, name: str) -> str:
        """The secret called ``name``, made on first use: the first writer wins."""
        with self._client() as client:
            client.hsetnx(self._key("secrets"), name, new_secret())
            value: str | None = client.hget(self._key("secrets"), name)
        assert value is not None
        return value
