"""The examples in docs/timeseries.md run as written, top to bottom, like a reader would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "timeseries.md"


def test_doc_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 5
    namespace: dict[str, Any] = {}
    for index, block in enumerate(blocks):
        exec(compile(block, f"{DOC.name}[{index}]", "exec"), namespace)
    assert capsys.readouterr().out.startswith("{")  # the compat example prints a bucket
