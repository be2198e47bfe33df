"""API keys kept hashed, the tokens that carry them, and the local keys store.

:class:`ApiKeyStore` is what a server and ``aion keys`` need of a keys store. :class:`KeyStore`
keeps the keys of one machine in ``<data dir>/keys.db``; a cluster keeps them in its shared
PostgreSQL database (:mod:`aion.server.ops.keys_postgres`, chosen by
:mod:`aion.server.ops.keys_cluster`).

A key is the token ``aion_<key id>_<secret>``: a public 12-hex-digit id (shown by ``aion keys
list``, logged with each request) and a secret of 32 random bytes. Only SHA-256 of the secret
is stored. A slow hash (scrypt, bcrypt) protects low-entropy passwords from guessing; these
secrets have 256 bits of entropy, so a fast hash is as safe and costs microseconds per request
instead of milliseconds. Hashes are compared with ``hmac.compare_digest`` (constant time).

The file is SQLite in rollback-journal mode, so several ``aion keys`` commands and several
server processes share it safely (SQLite's locks), and every commit bumps the header's
*file change counter*: a server notices a new or revoked key by reading 4 bytes
(:meth:`KeyStore.version`), not by querying.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aion.core.events import validate_namespace
from aion.errors import ConfigurationError, NotFound, ValidationError
from aion.server.ops.auth_rules import ALL_NAMESPACES, Grant, Scope

__all__ = [
    "KEYS_FILE",
    "TOKEN_PREFIX",
    "ApiKey",
    "ApiKeyStore",
    "KeyStore",
    "StoredKey",
    "check_new_key",
    "new_key_id",
    "new_secret",
    "scopes_of",
    "scopes_text",
    "split_token",
    "token_digest",
]

KEYS_FILE = "keys.db"
TOKEN_PREFIX = "aion"
_ID_HEX = 12
_BUSY_TIMEOUT_S = 10.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id        TEXT PRIMARY KEY,
    secret_sha256 BLOB NOT NULL,
    namespace     TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    created       REAL NOT NULL,
    revoked       REAL,
    last_used     REAL
)
"""
_SECRETS_SCHEMA = "CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as listed: never its secret."""

    key_id: str
    namespace: str
    scopes: frozenset[Scope]
    created: float
    revoked: float | None = None
    last_used: float | None = None


@dataclass(frozen=True, slots=True)
class StoredKey:
    """An active key as a server holds it: the grant and the hash to check a secret against."""

    grant: Grant
    secret_sha256: bytes

    def matches(self, secret: str) -> bool:
        """Whether ``secret`` is this key's, in constant time."""
        return hmac.compare_digest(token_digest(secret), self.secret_sha256)


def token_digest(secret: str) -> bytes:
    """What a store keeps of a key's secret: its SHA-256."""
    return hashlib.sha256(secret.encode("utf-8")).digest()


def new_secret() -> str:
    """A key's secret, or a cluster's signing secret: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def new_key_id() -> str:
    """A key's public id: 12 random hex digits."""
    return secrets.token_hex(_ID_HEX // 2)


def split_token(token: str) -> tuple[str, str] | None:
    """``aion_<id>_<secret>`` → ``(id, secret)``; None for anything else."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or len(key_id) != _ID_HEX or not secret:
        return None
    if any(c not in "0123456789abcdef" for c in key_id):
        return None
    return key_id, secret


def scopes_text(scopes: frozenset[Scope]) -> str:
    """Scopes as stored: comma-separated, in a fixed order."""
    return ",".join(s.value for s in Scope if s in scopes)


def scopes_of(text: str) -> frozenset[Scope]:
    """Scopes as stored, read back."""
    return frozenset(Scope(s) for s in text.split(",") if s)


def check_new_key(namespace: str, scopes: frozenset[Scope]) -> None:
    """Refuse a key for a bad namespace or with no scope, naming the field."""
    if namespace != ALL_NAMESPACES:
        validate_namespace(namespace)
    if not scopes:
        raise ValidationError("a key needs at least one scope", "scopes")


class ApiKeyStore(Protocol):
    """Where API keys (and a cluster's shared secrets) are kept. Every method is blocking;
    servers call them in a thread."""

    @property
    def where(self) -> str:
        """The store as logs and messages name it (a file, or a database without password)."""
        ...

    def create(self, namespace: str, scopes: frozenset[Scope]) -> tuple[ApiKey, str]:
        """A new key and its token (shown once, never stored)."""
        ...

    def list_keys(self) -> list[ApiKey]:
        """Every key, revoked ones too, oldest first."""
        ...

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key (idempotent); ``NotFound`` for an unknown id."""
        ...

    def any_keys(self) -> bool:
        """Whether a key was ever created (revoked ones count)."""
        ...

    def load_active(self) -> dict[str, StoredKey]:
        """The active keys by id."""
        ...

    def record_use(self, last_used: Mapping[str, float]) -> None:
        """Store the times keys were last used."""
        ...

    def version(self) -> Hashable:
        """A value that changes whenever a key is created or revoked (cheap to read)."""
        ...

    def shared_secret(self, name: str) -> str:
        """The secret called ``name``, made on first use: the first writer wins, and every
        caller gets the same value from then on."""
        ...


class KeyStore:
    """The keys file of one data directory (:class:`ApiKeyStore`)."""

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / KEYS_FILE

    @property
    def where(self) -> str:
        return str(self.path)

    @contextmanager
    def _connect(self, create: bool) -> Iterator[sqlite3.Connection]:
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Only the owner may read the hashes.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        elif not self.path.exists():
            raise NotFound(f"no keys file at {self.path}")
        try:
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open {self.path}: {exc}") from exc
        try:
            conn.execute(_SCHEMA)
            conn.execute(_SECRETS_SCHEMA)
            yield conn
        except sqlite3.Error as exc:
            raise ConfigurationError(f"{self.path}: {exc}") from exc
        finally:
            conn.close()

    def create(self, namespace: str, scopes: frozenset[Scope]) -> tuple[ApiKey, str]:
        """A new key; returns it with its token, which is shown once and never stored."""
        check_new_key(namespace, scopes)
        secret = new_secret()
        created = time.time()
        with self._connect(create=True) as conn:
            while True:
                key_id = new_key_id()
                try:
                    conn.execute(
                        "INSERT INTO api_keys (key_id, secret_sha256, namespace, scopes, created)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (key_id, token_digest(secret), namespace, scopes_text(scopes), created),
                    )
                    break
                except sqlite3.IntegrityError:
                    continue  # an id collision (one in 2**48): draw again
        key = ApiKey(key_id, namespace, scopes, created)
        return key, f"{TOKEN_PREFIX}_{key_id}_{secret}"

    def list_keys(self) -> list[ApiKey]:
        """Every key, revoked ones too, oldest first."""
        if not self.path.exists():
            return []
        with self._connect(create=False) as conn:
            rows = conn.execute(
                "SELECT key_id, namespace, scopes, created, revoked, last_used FROM api_keys "
                "ORDER BY created, key_id"
            ).fetchall()
        return [ApiKey(r[0], r[1], scopes_of(r[2]), r[3], r[4], r[5]) for r in rows]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key (idempotent); ``NotFound`` for an unknown id."""
        if not self.path.exists():
            raise NotFound(f"no API key {key_id!r}")
        with self._connect(create=False) as conn:
            conn.execute(
                "UPDATE api_keys SET revoked = ? WHERE key_id = ? AND revoked IS NULL",
                (time.time(), key_id),
            )
            row = conn.execute(
                "SELECT key_id, namespace, scopes, created, revoked, last_used FROM api_keys "
                "WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            raise NotFound(f"no API key {key_id!r}")
        return ApiKey(row[0], row[1], scopes_of(row[2]), row[3], row[4], row[5])

    def any_keys(self) -> bool:
        """Whether a key was ever created here (revoked ones count: revoking every key locks
        the server, it does not open it)."""
        if not self.path.exists():
            return False
        with self._connect(create=False) as conn:
            return conn.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone() is not None

    def load_active(self) -> dict[str, StoredKey]:
        """The active keys by id."""
        if not self.path.exists():
            return {}
        with self._connect(create=False) as conn:
            rows = conn.execute(
                "SELECT key_id, secret_sha256, namespace, scopes FROM api_keys "
                "WHERE revoked IS NULL"
            ).fetchall()
        return {r[0]: StoredKey(Grant(r[0], r[2], scopes_of(r[3])), bytes(r[1])) for r in rows}

    def record_use(self, last_used: Mapping[str, float]) -> None:
        """Store the times keys were last used (servers call this at most once a minute)."""
        if not last_used or not self.path.exists():
            return
        with self._connect(create=False) as conn:
            conn.executemany(
                "UPDATE api_keys SET last_used = max(coalesce(last_used, 0), ?) WHERE key_id = ?",
                [(when, key_id) for key_id, when in last_used.items()],
            )

    def shared_secret(self, name: str) -> str:
        """The secret called ``name`` in this file, made on first use (first writer wins)."""
        with self._connect(create=True) as conn:
            conn.execute(
                "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (name, new_secret()),
            )
            row = conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        return str(row[0])

    def version(self) -> tuple[int, int, bytes] | None:
        """What changes whenever the keys do: the file's inode and size and SQLite's file
        change counter (header bytes 24-27); None while there is no file."""
        try:
            with self.path.open("rb") as f:
                header = f.read(100)
                stat = os.fstat(f.fileno())
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_size, header[24:28]
