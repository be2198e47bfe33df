"""The repository stands on its own: nothing in it points outside it."""

from __future__ import annotations

import subprocess

from tests.support.paths import ROOT


def test_nothing_links_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    outside = "../" + "shared"
    found = [
        name
        for name in tracked
        if (ROOT / name).is_file()
        and name.endswith((".md", ".py", ".toml", ".cfg", ".txt", ".sh", ".js", ".html"))
        and outside in (ROOT / name).read_text(encoding="utf-8", errors="replace")
    ]
    assert found == []
