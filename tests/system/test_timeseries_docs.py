"""The examples in docs/timeseries.md run as written, top to bottom, like a reader would."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.paths import ROOT

DOC = ROOT / "docs" / "timeseries.md"


def test_doc_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 5
    namespace: dict[str, Any] = {}
    for index, block in enumerate(blocks):
        exec(compile(block, f"{DOC.name}[{index}]", "exec"), namespace)
    assert capsys.readouterr().out.startswith("{")  # the compat example prints a bucket
