"""Run every benchmark module (``bench/bench_*.py``) or the ones named on the command line.

``python -m bench`` (``make bench``) prints each figure beside its ceiling or peer measured in
the same run and writes the rows to ``bench/results/latest.json``. ``AION_BENCH_QUICK=1`` runs
a smaller scale for a smoke test.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _modules(selected: list[str]) -> list[str]:
    found = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )  # fmt: skip
    if not selected:
        return found
    return [m for m in found if any(s in m for s in selected)]


def main() -> int:
    rows: list[dict[str, Any]] = []
    failed = []
    for name in _modules(sys.argv[1:]):
        print(f"\n== {name} ==", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            rows.extend({"module": name, **row} for row in module.main())
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"({name}: {time.perf_counter() - started:.1f} s)", flush=True)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(rows, indent=2))
    print(f"\n{len(rows)} figures written to {out / 'latest.json'}")
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
