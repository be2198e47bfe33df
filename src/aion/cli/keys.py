"""``aion keys``: create, list and revoke the API keys of a data directory or a cluster.

With ``--data DIR`` the keys live in ``DIR/keys.db``, beside the embedded store; with
``--config aion.toml`` they live where that configuration's servers read them: the shared
PostgreSQL store of a cluster (see :mod:`aion.server.ops.keys_cluster`), else the data
directory it names. Running servers pick up a change within about a second (two for a shared
store). A new key's token is printed once, on standard output alone (so
``KEY=$(aion keys create ...)`` works), and cannot be shown again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from aion.cli.output import fail
from aion.errors import AionError
from aion.server.config import AionConfig
from aion.server.ops.auth_rules import parse_scopes
from aion.server.ops.keys import ApiKey, ApiKeyStore, KeyStore

__all__ = ["keys_app"]

keys_app = typer.Typer(
    name="keys",
    help="Manage API keys (stored hashed in <data>/keys.db, or a cluster's shared store).",
    no_args_is_help=True,
    add_completion=False,
)

DataOption = Annotated[
    Path, typer.Option("--data", help="Data directory of the server (holds keys.db).")
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The servers' aion.toml: its keys store (a cluster's shared one) instead of --data.",
    ),
]


def _store(data: Path, config: Path | None) -> ApiKeyStore:
    """The keys store ``--config`` names (its shared store, else its data directory), or the
    one in ``--data``."""
    if config is None:
        return KeyStore(data)
    from aion.cli.serve import build_config_mapping
    from aion.server.ops.keys_cluster import open_key_store

    # Read as ``aion serve --config`` reads it, so both find the same store.
    return open_key_store(
        AionConfig.from_mapping(build_config_mapping(data, config), source=str(config))
    )


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")


def _as_json(key: ApiKey) -> dict[str, object]:
    return {
        "key_id": key.key_id,
        "namespace": key.namespace,
        "scopes": sorted(key.scopes),
        "created": _when(key.created),
        "last_used": None if key.last_used is None else _when(key.last_used),
        "revoked": None if key.revoked is None else _when(key.revoked),
    }


@keys_app.command("create")
def create(
    namespace: Annotated[
        str, typer.Option("--namespace", "-n", help="Namespace the key is for ('*': all).")
    ],
    scopes: Annotated[
        str, typer.Option("--scopes", help="Comma-separated: read, write, admin.")
    ] = "read,write",
    data: DataOption = Path("aion-data"),
    config: ConfigOption = None,
) -> None:
    """Create a key and print its token (once; it is stored hashed)."""
    try:
        wanted = parse_scopes(scopes)
    except ValueError as exc:
        fail(f"--scopes: {exc}")
    try:
        key, token = _store(data, config).create(namespace, wanted)
    except AionError as exc:
        fail(str(exc))
    typer.echo(token)
    typer.echo(
        f"created key {key.key_id} for namespace {key.namespace!r} with scopes "
        f"{','.join(sorted(key.scopes))}; the token above is not shown again",
        err=True,
    )


@keys_app.command("list")
def list_keys(
    data: DataOption = Path("aion-data"),
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """List the keys: id, namespace, scopes, created, last used, revoked (never a secret)."""
    try:
        keys = _store(data, config).list_keys()
    except AionError as exc:
        fail(str(exc))
    if as_json:
        for key in keys:
            typer.echo(json.dumps(_as_json(key)))
        return
    typer.echo(f"{'KEY ID':<14}{'NAMESPACE':<16}{'SCOPES':<18}{'CREATED':<27}{'LAST USED':<27}"
               "REVOKED")  # fmt: skip
    for key in keys:
        typer.echo(
            f"{key.key_id:<14}{key.namespace:<16}{','.join(sorted(key.scopes)):<18}"
            f"{_when(key.created):<27}{_when(key.last_used):<27}{_when(key.revoked)}"
        )


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The id shown by `aion keys list`.")],
    data: DataOption = Path("aion-data"),
    config: ConfigOption = None,
) -> None:
    """Revoke a key; servers refuse it within about a second (two for a shared store)."""
    try:
        key = _store(data, config).revoke(key_id)
    except AionError as exc:
        fail(str(exc))
    typer.echo(f"revoked key {key.key_id} ({key.namespace}) at {_when(key.revoked)}", err=True)
