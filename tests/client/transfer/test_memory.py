"""Export and import stream: their memory does not grow with the number of events.

Each run is a child process that reports its own peak RSS (``VmHWM``) as it exits; a fork's
``ru_maxrss`` would include the test process's memory. The baseline is the same command over an
empty stream (same code loaded, pyarrow included); 200,000 events must add far less than
holding them would (a list of 200,000 decoded events alone takes about 100 MB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.paths import ROOT

_ENV = os.environ | {"PYTHONPATH": str(ROOT / "src")}
EVENTS = 200_000
GROWTH_LIMIT_MB = 30
_REPORT_PEAK = """
import atexit, sys
def report():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write("PEAK " + line.split()[1] + "\\n")
atexit.register(report)
from aion.cli.main import main
sys.argv = ["aion", *sys.argv[1:]]
main()
"""


def _peak_mb(*args: str) -> float:
    """Run ``aion ARGS`` in a child process and return its peak resident set size in MB."""
    done = subprocess.run(
        [sys.executable, "-c", _REPORT_PEAK, *args], env=_ENV, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    peak = [line for line in done.stderr.decode().splitlines() if line.startswith("PEAK ")]
    return int(peak[-1].split()[1]) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_export_and_import_memory_is_bounded(url: str, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    with httpx.Client(base_url=url, timeout=60) as http:
        for first in range(0, EVENTS, 50_000):
            chunk = [
                {"@time": i + 1, "n": i, "pad": "x" * 64} for i in range(first, first + 50_000)
            ]
            assert http.post("/v1/ingest/big", content=json.dumps(chunk)).status_code == 200

    def export(name: str, *options: str) -> float:
        return _peak_mb("export", "big", "-o", str(tmp_path / name), "--url", url, *options)

    # JSON lines: against the same command over an empty stream.
    (tmp_path / "empty.jsonl").write_bytes(b"")
    growth = {
        "export jsonl": export("big.jsonl")
        - _peak_mb("export", "none", "-o", str(tmp_path / "none.jsonl"), "--url", url),
        "import jsonl": _peak_mb("import", str(tmp_path / "big.jsonl"), "-s", "copy", "--url", url)
        - _peak_mb("import", str(tmp_path / "empty.jsonl"), "-s", "none", "--url", url),
    }
    assert (tmp_path / "big.jsonl").stat().st_size > 25_000_000
    # Parquet: pyarrow's memory pools fill up with the first row groups and stay; what must
    # not happen is growth with the stream, so compare a quarter of it with all of it.
    # The same export's peak varies by up to ~20 MB from run to run (allocator timing), so each
    # side is the lower of two runs.
    every = ("--checkpoint-every", "20000")
    quarter = ("--end", str(EVENTS / 4 / 1e7), *every)
    small = min(export(f"small{i}.parquet", *quarter) for i in (1, 2))
    big = min(export(f"big{i}.parquet", *every) for i in (1, 2))
    growth["export parquet"] = big - small
    assert max(growth.values()) < GROWTH_LIMIT_MB, growth
    body = {"stream": "copy", "end_time": 2**62, "limit": 1, "order": "descending"}
    answer = httpx.post(f"{url}/1.0/events/get", json=body)
    assert json.loads(answer.content.split(b"\r\n")[0])["n"] == EVENTS - 1
