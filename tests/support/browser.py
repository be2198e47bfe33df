"""The system's Chromium (Debian's ``chromium``; ``scripts/browser.sh`` installs it), driven by
playwright's Python package without playwright's own browser downloads. In CI (``CI=true``) a
missing browser fails the tests that want it; elsewhere they are skipped with the reason."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def unavailable(reason: str) -> None:
    """Skip the test, or fail it in CI, where the browser tests must run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; the browser tests must run in CI")
    pytest.skip(reason)


def chromium_path() -> str:
    """The Chromium binary: ``AION_CHROMIUM``, else ``chromium`` on the PATH."""
    found = os.environ.get("AION_CHROMIUM") or shutil.which("chromium")
    if not found:
        unavailable("chromium is not installed (run scripts/browser.sh)")
    return str(found)


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """A headless Chromium, closed afterwards. Use it per module, not per session: while
    playwright's sync API runs, its event loop is the thread's, and asyncio tests after it
    could not run theirs."""
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install 'aion[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
