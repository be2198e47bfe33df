"""mypy, strict, checks the public API as a user calls it (``usage.py``) and refuses what a
user must not write (``misuse.py``), with the project's mypy settings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def _mypy(path: Path) -> tuple[str, int]:
    # In a process of its own: mypy raises the interpreter's recursion limit for good.
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml"),
         "--no-error-summary", str(path)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert not done.stderr, done.stderr
    return done.stdout, done.returncode


def test_the_public_api_type_checks_as_a_user_calls_it() -> None:
    out, status = _mypy(HERE / "usage.py")
    assert (status, out) == (0, "")


def test_misuse_is_refused() -> None:
    out, status = _mypy(HERE / "misuse.py")
    assert status == 1
    flagged = {int(n) for n in re.findall(r"misuse\.py:(\d+): error", out)}
    lines = (HERE / "misuse.py").read_text().splitlines()
    marked = {i for i, line in enumerate(lines, start=1) if "# error:" in line}
    assert flagged == marked, out
