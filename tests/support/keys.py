"""API keys for the tests: an app config over the memory backend, and one key per case."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aion.server.config import AionConfig, Route
from aion.server.ops.auth_rules import Scope
from aion.server.ops.keys import KeyStore

R, W, A = Scope.READ, Scope.WRITE, Scope.ADMIN


def memory_config(data_dir: Path) -> AionConfig:
    return AionConfig(
        backends={"memory": "memory://"},
        routes=(Route("*", "", ("memory",), "memory"),),
        data_dir=data_dir,
    )


@dataclass(frozen=True)
class Keys:
    """Tokens: ``read``/``write``/``rw``/``admin`` for namespace ``default``, ``other`` (every
    scope, namespace ``other``), ``root`` (admin of every namespace) and ``revoked``."""

    read: str
    write: str
    rw: str
    admin: str
    other: str
    root: str
    revoked: str
    wrong: str


def make_keys(data_dir: Path) -> Keys:
    store = KeyStore(data_dir)

    def token(namespace: str, *scopes: Scope) -> str:
        return store.create(namespace, frozenset(scopes))[1]

    revoked_key, revoked = store.create("default", frozenset({R, W, A}))
    store.revoke(revoked_key.key_id)
    rw = token("default", R, W)
    key_id = rw.split("_")[1]
    return Keys(
        read=token("default", R),
        write=token("default", W),
        rw=rw,
        admin=token("default", A),
        other=token("other", R, W, A),
        root=token("*", A),
        revoked=revoked,
        wrong=f"aion_{key_id}_not-the-secret",
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
