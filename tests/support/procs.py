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


def start_server(
    data: Path, *, port: int | None = None, config: Path | None = None, workers: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    port = port or free_port()
    args = [sys.executable, "-m", "aion", "serve", "--port", str(port), "--data", str(data),
            "--workers", str(workers), "--log-level", "warning"]  # fmt: skip
    if config is not None:
        args += ["--config", str(config)]
    proc = subprocess.Popen(args, start_new_session=True)
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
