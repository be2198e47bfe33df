"""Counts in words: the plural rule every count the CLI prints follows."""

from __future__ import annotations

import pytest

from aion.core.wording import counted, verb


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 events"), (1, "1 event"), (2, "2 events"), (1200, "1,200 events"), (-1, "-1 events")],
)
def test_counted_events(count: int, expected: str) -> None:
    assert counted(count, "event") == expected


def test_irregular_and_given_plurals() -> None:
    assert counted(1, "batch") == "1 batch"
    assert counted(3, "batch") == "3 batches"
    assert counted(2, "index", "indices") == "2 indices"
    assert counted(1000, "event", grouped=False) == "1000 events"


def test_verb_agrees() -> None:
    assert [verb(n, "was", "were") for n in (0, 1, 2)] == ["were", "was", "were"]
