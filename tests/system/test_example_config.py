"""aion.example.toml: every setting with a comment, shipped in the package (``aion config
example``) and at the repository root, loading as it stands and serving as it stands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from aion.cli.config import EXAMPLE_NAME, example_text
from aion.cli.main import app
from aion.server.app import create_app
from aion.server.config import AionConfig
from aion.server.rollups.rules import _KEYS as RULE_KEYS
from aion.server.rollups.rules import rollup_rules
from aion.server.streams.retention import INTERVAL_KEY
from tests.support.live import serve
from tests.support.paths import ROOT
from tests.support.settings import toml_keys

runner = CliRunner()
ROOT_COPY = ROOT / EXAMPLE_NAME
TEXT = ROOT_COPY.read_text(encoding="utf-8")

# Read from config.extra by the modules that use them.
EXTRA_KEYS = {"rollups", INTERVAL_KEY, "iterator_secret"}
# A table rather than a `key = value` line.
TABLES = {
    "backends": r"^\[backends\.\w+\]",
    "routes": r"^\[\[routes\]\]",
    "rollups": r"^\[\[rollups\]\]",
}


def test_the_root_copy_is_the_shipped_one() -> None:
    assert example_text() == TEXT
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert f"server/{EXAMPLE_NAME}" in pyproject["tool"]["setuptools"]["package-data"]["aion"]


def _documented(name: str) -> bool:
    if name in TABLES:
        return re.search(TABLES[name], TEXT, flags=re.M) is not None
    # Each setting is a line of its own (commented out for one with no default value),
    # under a comment saying what it does.
    match = re.search(rf"^(# )?{name} = .*$", TEXT, flags=re.M)
    if match is None:
        return False
    before = TEXT[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
    return before.startswith("#")


def test_every_setting_is_in_it_with_a_comment() -> None:
    names = set(toml_keys("extra"))
    missing = sorted(name for name in names | EXTRA_KEYS if not _documented(name))
    assert missing == []
    rule = tomllib.loads(TEXT)["rollups"][0]
    assert set(rule) == set(RULE_KEYS)
    rollups = TEXT[TEXT.index("[[rollups]]") :]
    lines = rollups.splitlines()
    for key in RULE_KEYS:
        [at] = [i for i, x in enumerate(lines) if x.startswith(f"{key} = ")]
        assert "#" in lines[at] or lines[at - 1].startswith("#"), f"rollups.{key}: no comment"


def test_it_loads(tmp_path: Path) -> None:
    config = AionConfig.from_toml(ROOT_COPY, data_dir=tmp_path)
    assert config.backends == {"sqlite": "sqlite:///aion-data/aion.db"}
    assert config.streams_backend == "sqlite"
    [rule] = rollup_rules(config)
    assert rule.type.value == "count"
    # Nothing is left over but the keys other modules read.
    assert set(config.extra) <= EXTRA_KEYS


def test_it_serves_as_it_stands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # its paths are relative to where the server runs
    config = AionConfig.from_toml(ROOT_COPY)
    with serve(create_app(config)) as url:
        put = {"events": {"web.home": [{"page": "home", "clicks": 3}]}}
        assert httpx.post(f"{url}/1.0/events/put", json=put).json()["@success"]
        assert httpx.get(f"{url}/readyz").status_code == 200
    assert (tmp_path / "aion-data" / "aion.db").exists()


def test_aion_config_example_prints_it_and_check_reads_it(tmp_path: Path) -> None:
    printed = runner.invoke(app, ["config", "example"])
    assert printed.exit_code == 0
    assert printed.stdout == TEXT
    target = tmp_path / "aion.toml"
    target.write_text(printed.stdout, encoding="utf-8")
    checked = runner.invoke(app, ["config", "check", str(target)])
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.strip() == f"{target}: 1 backend, 1 route, 1 rollup rule"
    target.write_text(TEXT.replace('type = "count"', 'type = "counter"'), encoding="utf-8")
    refused = runner.invoke(app, ["config", "check", str(target)])
    assert refused.exit_code == 2
    assert "rollups[0].type" in refused.output
