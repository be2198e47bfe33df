"""A server process settles its heap once started; an app built in a test process does not."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from aion.server.app import GC_YOUNG_THRESHOLD, settle_heap


def test_settle_heap_freezes_and_raises_the_young_threshold() -> None:
    thresholds = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 1_000
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_only_a_tuned_process_settles_its_heap(tmp_path: Path) -> None:
    script = """
import asyncio, gc, sys
from aion.server.app import create_app, tune_interpreter
from aion.server.config import AionConfig
if sys.argv[1] == "tuned":
    tune_interpreter()
app = create_app(AionConfig.for_data_dir(sys.argv[2]))
async def main():
    async with app.router.lifespan_context(app):
        print(gc.get_freeze_count() > 0, gc.get_threshold()[0])
asyncio.run(main())
"""
    answers = {}
    for mode in ("tuned", "plain"):
        done = subprocess.run(
            [sys.executable, "-c", script, mode, str(tmp_path / mode)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        answers[mode] = done.stdout.split()
    assert answers["tuned"] == ["True", str(GC_YOUNG_THRESHOLD)]
    assert answers["plain"] == ["False", "700"]
