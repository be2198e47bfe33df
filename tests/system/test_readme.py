"""The README's examples run, and every setting is documented there."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from aion.server.app import create_app
from aion.server.config import AionConfig
from tests.support.live import serve
from tests.support.paths import ROOT

README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", TEXT, flags=re.S)


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with serve(create_app(AionConfig.for_data_dir(tmp_path))) as base:
        yield base


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_examples_run(index: int, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = blocks("python")[index].replace("http://127.0.0.1:8151", url)
    exec(compile(code, f"README.md[python {index}]", "exec"), {})
    assert capsys.readouterr().out


def test_shell_examples_run(url: str) -> None:
    (script,) = [b for b in blocks("sh") if "aion put" in b]
    bin_dir = Path(sys.executable).parent
    env = {"AION_URL": url, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    for line in script.strip().splitlines():
        done = subprocess.run(["bash", "-c", line], env=env, capture_output=True, timeout=60)
        assert done.returncode == 0, (line, done.stderr)


def test_config_example_parses_and_documents_every_setting(tmp_path: Path) -> None:
    (example,) = [b for b in blocks("toml") if "[[routes]]" in b]
    config = AionConfig.from_mapping(tomllib.loads(example), data_dir=tmp_path)
    assert config.routes[0].backends == ("local", "pg")
    internal = {"data_dir", "extra", "backends", "routes"}
    for setting in dataclasses.fields(AionConfig):
        if setting.name not in internal:
            assert re.search(rf"^{setting.name} = ", example, flags=re.M), setting.name
