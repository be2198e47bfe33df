"""API keys and a cluster's shared secrets in the PostgreSQL database its servers share.

Two tables beside the event tables: ``aion_api_keys`` (the same columns as the local
``keys.db``, the secret kept as its SHA-256) and ``aion_secrets`` (named random secrets, such
as the key that signs shard iterators, made once by whichever server or command asks first).

Every change to a key takes a new value from a sequence into the key's ``changed`` column, so
:meth:`PostgresKeyStore.version` (the count of keys and the largest ``changed``) moves
whenever a key is created or revoked, without trusting any server's clock. Each call opens
its own short connection (with a connect timeout): a server calls the store every couple of
seconds at most, and a connection that never outlives a call needs no reconnect logic.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg

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
from aion.storage.pg_url import conninfo

__all__ = ["PostgresKeyStore"]

CONNECT_TIMEOUT_SECONDS = 3
_SCHEMA = (
    "CREATE SEQUENCE IF NOT EXISTS aion_api_keys_changes",
    """CREATE TABLE IF NOT EXISTS aion_api_keys (
        key_id        TEXT PRIMARY KEY,
        secret_sha256 BYTEA NOT NULL,
        namespace     TEXT NOT NULL,
        scopes        TEXT NOT NULL,
        created       DOUBLE PRECISION NOT NULL,
        revoked       DOUBLE PRECISION,
        last_used     DOUBLE PRECISION,
        changed       BIGINT NOT NULL DEFAULT nextval('aion_api_keys_changes')
    )""",
    "CREATE TABLE IF NOT EXISTS aion_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_COLUMNS = "key_id, namespace, scopes, created, revoked, last_used"


def _listed(row: tuple[str, str, str, float, float | None, float | None]) -> ApiKey:
    return ApiKey(row[0], row[1], scopes_of(row[2]), row[3], row[4], row[5])


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresKeyStore:
    """The keys of every server that shares the PostgreSQL database at ``url``
    (:class:`~aion.server.ops.keys.ApiKeyStore`)."""

    def __init__(self, url: str, backend: str = "postgresql") -> None:
        self.url = conninfo(url)  # without Aion's own URL settings (pool_size, read_only)
        self.backend = backend
        self._schema_ready = False

    @property
    def where(self) -> str:
        return f"backend {self.backend!r} ({_without_password(self.url)})"

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        try:
            conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        except psycopg.Error as exc:
            raise BackendUnavailable(self.backend, f"cannot reach the keys store: {exc}") from exc
        try:
            with conn:
                if not self._schema_ready:
                    self._create_schema(conn)
                yield conn
        except psycopg.OperationalError as exc:
            raise BackendUnavailable(self.backend, f"the keys store failed: {exc}") from exc

    def _create_schema(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        # Two servers starting together may both create: the loser's CREATE fails on the
        # catalog's unique index, and the objects then exist.
        for statement in _SCHEMA:
            try:
                conn.execute(statement)
            except psycopg.errors.UniqueViolation:
                pass
        self._schema_ready = True

    def create(self, namespace: str, scopes: frozenset[Scope]) -> tuple[ApiKey, str]:
        """A new key; returns it with its token, which is shown once and never stored."""
        check_new_key(namespace, scopes)
        secret = new_secret()
        created = time.time()
        with self._connect() as conn:
            while True:
                key_id = new_key_id()
                cursor = conn.execute(
                    "INSERT INTO aion_api_keys (key_id, secret_sha256, namespace, scopes, created)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key_id) DO NOTHING",
                    (key_id, token_digest(secret), namespace, scopes_text(scopes), created),
                )
                if cursor.rowcount == 1:
                    break  # else an id collision (one in 2**48): draw again
        key = ApiKey(key_id, namespace, scopes, created)
        return key, f"{TOKEN_PREFIX}_{key_id}_{secret}"

    def list_keys(self) -> list[ApiKey]:
        """Every key, revoked ones too, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM aion_api_keys ORDER BY created, key_id"
            ).fetchall()
        return [_listed(row) for row in rows]  # type: ignore[arg-type]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key (idempotent); ``NotFound`` for an unknown id."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE aion_api_keys SET revoked = %s, changed = nextval('aion_api_keys_changes')"
                " WHERE key_id = %s AND revoked IS NULL",
                (time.time(), key_id),
            )
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM aion_api_keys WHERE key_id = %s", (key_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no API key {key_id!r}")
        return _listed(row)  # type: ignore[arg-type]

    def any_keys(self) -> bool:
        """Whether a key was ever created here (revoked ones count)."""
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM aion_api_keys LIMIT 1").fetchone() is not None

    def load_active(self) -> dict[str, StoredKey]:
        """The active keys by id."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT key_id, secret_sha256, namespace, scopes FROM aion_api_keys "
                "WHERE revoked IS NULL"
            ).fetchall()
        keys: dict[str, StoredKey] = {}
        for key_id, digest, namespace, scopes in rows:
            assert isinstance(key_id, str) and isinstance(namespace, str)
            assert isinstance(scopes, str) and isinstance(digest, bytes | memoryview)
            keys[key_id] = StoredKey(Grant(key_id, namespace, scopes_of(scopes)), bytes(digest))
        return keys

    def record_use(self, last_used: Mapping[str, float]) -> None:
        """Store the times keys were last used (servers call this at most once a minute)."""
        if not last_used:
            return
        with self._connect() as conn, conn.cursor() as cursor:
            cursor.executemany(
                "UPDATE aion_api_keys SET last_used = greatest(coalesce(last_used, 0), %s)"
                " WHERE key_id = %s",
                [(when, key_id) for key_id, when in last_used.items()],
            )

    def version(self) -> tuple[int, int]:
        """The number of keys and the latest change: moves on every create and revoke."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT count(*), coalesce(max(changed), 0) FROM aion_api_keys"
            ).fetchone()
        assert row is not None
        count, changed = row
        assert isinstance(count, int) and isinstance(changed, int)
        return count, changed

    def shared_secret(self, name: str) -> str:
        """The secret called ``name``, made on first use: the first writer wins."""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO aion_secrets (name, value) VALUES (%s, %s) "
                "ON CONFLICT (name) DO NOTHING",
                (name, new_secret()),
            )
            row = conn.execute("SELECT value FROM aion_secrets WHERE name = %s", (name,)).fetchone()
        assert row is not None and isinstance(row[0], str)
        return row[0]
