"""Real ``aion serve`` processes for the tests that kill or multiply servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.live import free_port
from tests.support.paths import ROOT


def start_server(
    data: Path,
    *,
    port: int | None = None,
    config: Path | None = None,
    workers: int = 1,
    node_id: str | None = None,
    clock_offset: float | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """``aion serve`` in a process of its own (a session, so it can be killed whole);
    ``clock_offset`` runs its wall clock that many seconds off."""
    port = port or free_port()
    command = [sys.executable, "-m", "aion"]
    if clock_offset is not None:
        command = [sys.executable, "-m", "tests.support.skewed_server", str(clock_offset)]
    args = [*command, "serve", "--port", str(port), "--data", str(data),
            "--workers", str(workers), "--log-level", "warning"]  # fmt: skip
    if config is not None:
        args += ["--config", str(config)]
    if node_id is not None:
        args += ["--node-id", node_id]
    # The skewed launcher is a test module: run from the repository's root to import it.
    proc = subprocess.Popen(args, start_new_session=True, cwd=ROOT if clock_offset else None)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"aion serve exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("aion serve did not come up")


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server and every worker it started."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


@contextmanager
def running_server(data: Path, **kwargs: object) -> Iterator[str]:
    with running_server_with_pid(data, **kwargs) as (url, _):
        yield url


@contextmanager
def running_server_with_pid(data: Path, **kwargs: object) -> Iterator[tuple[str, int]]:
    """A server for the block, with the pid of its process (for memory readings)."""
    proc, url = start_server(data, **kwargs)  # type: ignore[arg-type]
    try:
        yield url, proc.pid
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            kill_hard(proc)
