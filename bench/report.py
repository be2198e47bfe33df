"""Shared printing and row building for the benchmark modules."""

from __future__ import annotations

import os
from typing import Any

QUICK = os.environ.get("AION_BENCH_QUICK", "") not in ("", "0")


def row(
    name: str,
    value: float,
    unit: str,
    reference: str | None = None,
    reference_value: float | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    """One figure, printed beside its reference, with the ratio."""
    ratio = value / reference_value if reference_value else None
    line = f"{name:<58} {value:>14,.1f} {unit}"
    if reference is not None and reference_value is not None:
        line += f"   | {reference}: {reference_value:,.1f} {unit}"
        if ratio is not None:
            line += f"   ratio {ratio:.2f}"
    if target:
        line += f"   (target {target})"
    print(line, flush=True)
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "reference": reference,
        "reference_value": reference_value,
        "ratio": ratio,
        "target": target,
    }


def rss_mb(pid: int) -> tuple[float, float]:
    """Current and peak resident memory of a process, in MB (Linux /proc)."""
    current = peak = 0.0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return current, peak
