"""``aion keys`` and the keys file; ``aion serve`` refusing to listen openly without keys;
the key ring's reload."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aion.cli.main import app
from aion.errors import NotFound, Unauthorized
from aion.server.ops.auth_rules import Scope
from aion.server.ops.keys import KeyStore, split_token
from aion.server.ops.keys_ring import KeyRing

runner = CliRunner()


def test_create_list_revoke(tmp_path: Path) -> None:
    data = str(tmp_path)
    created = runner.invoke(
        app, ["keys", "create", "--data", data, "--namespace", "ns1", "--scopes", "read,write"]
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    parts = split_token(token)
    assert parts is not None
    key_id, secret = parts
    assert "not shown again" in created.stderr

    listed = runner.invoke(app, ["keys", "list", "--data", data, "--json"])
    assert listed.exit_code == 0
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["key_id"] == key_id
    assert row["namespace"] == "ns1"
    assert row["scopes"] == ["read", "write"]
    assert row["revoked"] is None
    assert secret not in listed.stdout
    table = runner.invoke(app, ["keys", "list", "--data", data])
    assert key_id in table.stdout and secret not in table.stdout

    # Only a hash is stored, and only the owner may read the file.
    raw = (tmp_path / "keys.db").read_bytes()
    assert secret.encode() not in raw
    assert stat.S_IMODE((tmp_path / "keys.db").stat().st_mode) == 0o600

    revoked = runner.invoke(app, ["keys", "revoke", key_id, "--data", data])
    assert revoked.exit_code == 0
    listed = runner.invoke(app, ["keys", "list", "--data", data, "--json"])
    assert json.loads(listed.stdout)["revoked"] is not None


def test_cli_errors(tmp_path: Path) -> None:
    data = str(tmp_path)
    bad_scope = runner.invoke(
        app, ["keys", "create", "--data", data, "--namespace", "n", "--scopes", "root"]
    )
    assert bad_scope.exit_code == 2
    assert "unknown scope" in bad_scope.stderr
    bad_ns = runner.invoke(app, ["keys", "create", "--data", data, "--namespace", "a b"])
    assert bad_ns.exit_code == 2
    unknown = runner.invoke(app, ["keys", "revoke", "0123456789ab", "--data", data])
    assert unknown.exit_code == 2
    assert "no API key" in unknown.stderr


def test_serve_refuses_a_public_address_without_keys(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "--insecure" in result.stderr


def test_serve_rejects_an_unknown_log_format(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--data", str(tmp_path), "--log-format", "xml"])
    assert result.exit_code == 2


def test_exposure_check_passes_with_a_key_or_insecure(tmp_path: Path) -> None:
    from aion.cli.serve import check_exposure

    check_exposure("0.0.0.0", tmp_path, insecure=True)
    check_exposure("127.0.0.1", tmp_path, insecure=False)
    KeyStore(tmp_path).create("*", frozenset({Scope.ADMIN}))
    check_exposure("0.0.0.0", tmp_path, insecure=False)


async def test_key_ring_reloads_on_change(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    ring = KeyRing(store, min_interval=0.0, usage_interval=0.0)
    await ring.refresh()
    assert not ring.enabled
    key, token = store.create("ns", frozenset({Scope.READ}))
    await ring.refresh()
    assert ring.enabled
    assert ring.authenticate(token).namespace == "ns"
    with pytest.raises(Unauthorized):
        ring.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B"))
    with pytest.raises(Unauthorized):
        ring.authenticate(None)
    await ring.refresh()  # writes the last use back
    assert store.list_keys()[0].last_used is not None
    store.revoke(key.key_id)
    await ring.refresh()
    assert ring.enabled  # a revoked key still means keys are required
    with pytest.raises(Unauthorized):
        ring.authenticate(token)


async def test_key_ring_checks_at_most_once_per_interval(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    ring = KeyRing(store, min_interval=3600.0)
    await ring.refresh()
    _, token = store.create("ns", frozenset({Scope.READ}))
    await ring.refresh()
    assert not ring.enabled  # not looked at again yet
    ring.refresh_now()
    assert ring.authenticate(token).key_id == token.split("_")[1]


def test_split_token() -> None:
    assert split_token("aion_0123456789ab_se_cr-et") == ("0123456789ab", "se_cr-et")
    for bad in ["", "aion", "aion_0123456789ab_", "xion_0123456789ab_s", "aion_0123_s",
                "aion_0123456789AZ_s"]:  # fmt: skip
        assert split_token(bad) is None


def test_revoking_an_unknown_key(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        KeyStore(tmp_path).revoke("0123456789ab")
    KeyStore(tmp_path).create("ns", frozenset({Scope.READ}))
    with pytest.raises(NotFound):
        KeyStore(tmp_path).revoke("0123456789ab")
