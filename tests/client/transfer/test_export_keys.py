"""``aion export`` and ``aion import`` under API keys: the key decides, as on every family."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from aion.cli.main import app as cli_app
from aion.server.app import create_app
from aion.server.config import AionConfig
from aion.server.ops.auth_rules import Scope
from aion.server.ops.keys import KeyStore
from tests.client.transfer.conftest import sample_events
from tests.support.keys import bearer
from tests.support.live import serve


@dataclass(frozen=True)
class Keyed:
    url: str
    read: str
    write: str
    other: str


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    data = tmp_path_factory.mktemp("keyed")
    store = KeyStore(data)
    read = store.create("default", frozenset({Scope.READ}))[1]
    write = store.create("default", frozenset({Scope.WRITE}))[1]
    other = store.create("other", frozenset({Scope.READ, Scope.WRITE}))[1]
    with serve(create_app(AionConfig.for_data_dir(data))) as url:
        put = {"events": {"kept": sample_events(20)}}
        assert httpx.post(url + "/1.0/events/put", json=put, headers=bearer(write)).is_success
        yield Keyed(url, read, write, other)


def _export(keyed: Keyed, out: Path, key: str | None) -> tuple[int, str]:
    args = ["export", "kept", "-o", str(out), "--url", keyed.url]
    result = CliRunner().invoke(cli_app, [*args, *(["--api-key", key] if key else [])])
    return result.exit_code, result.output


def test_export_with_a_read_key_writes_every_event(keyed: Keyed, tmp_path: Path) -> None:
    out = tmp_path / "kept.jsonl"
    code, output = _export(keyed, out, keyed.read)
    assert code == 0, output
    assert len([json.loads(line) for line in out.read_text().splitlines()]) == 20


@pytest.mark.parametrize(
    ("which", "status"), [(None, "401"), ("wrong", "401"), ("write", "403"), ("other", "403")]
)
def test_export_without_the_right_key_is_refused_and_writes_nothing(
    keyed: Keyed, tmp_path: Path, which: str | None, status: str
) -> None:
    key = None if which is None else getattr(keyed, which, "aion_0123456789ab_wrong")
    out = tmp_path / "kept.jsonl"
    code, output = _export(keyed, out, key)
    assert code != 0
    assert status in output, output
    assert not out.exists()
