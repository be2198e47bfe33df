"""What a new user meets first in the ``aion`` command: ``--version``, and counts in words that
agree with the number (``1 event``, ``2 events``)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from rich.progress import Progress
from typer.testing import CliRunner

import aion
from aion.cli.main import app
from aion.cli.output import EventsDone
from aion.server.app import create_app
from aion.server.config import AionConfig
from tests.support.live import serve

runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with serve(create_app(AionConfig.for_data_dir(tmp_path))) as base:
        yield base


def test_version_prints_the_package_version() -> None:
    done = runner.invoke(app, ["--version"])
    assert done.exit_code == 0
    assert done.stdout == f"aion {aion.__version__}\n"
    assert aion.__version__ == version("aion")


def test_version_from_the_installed_command() -> None:
    command = Path(sys.executable).parent / "aion"
    done = subprocess.run([str(command), "--version"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, f"aion {aion.__version__}\n")


def test_put_counts_in_words(url: str) -> None:
    one = runner.invoke(app, ["put", "s", "--url", url], input='{"a": 1}\n')
    assert one.exit_code == 0, one.output
    assert "stored 1 event in s" in one.output
    two = runner.invoke(app, ["put", "s", "--url", url], input='{"a": 1}\n{"a": 2}\n')
    assert "stored 2 events in s" in two.output


def test_a_refused_line_says_how_many_were_stored(url: str) -> None:
    lines = "".join(json.dumps({"n": i}) + "\n" for i in range(1001))
    done = runner.invoke(app, ["put", "s", "--url", url], input=lines + "not json\n")
    assert done.exit_code == 2
    assert "line 1002: not valid JSON" in done.output
    assert "1,000 events were stored" in done.output
    none = runner.invoke(app, ["put", "s", "--url", url], input="[1]\n")
    assert "0 events were stored" in none.output


def test_the_progress_count_agrees_with_the_number() -> None:
    with Progress(disable=True) as bar:
        task = bar.add_task("put", total=None)
        column = EventsDone()
        bar.advance(task, 1)
        assert column.render(bar.tasks[0]).plain == "1 event"
        bar.advance(task, 1999)
        assert column.render(bar.tasks[0]).plain == "2,000 events"
