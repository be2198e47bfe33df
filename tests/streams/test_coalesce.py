"""The coalescer behind PostgreSQL appends: callers that arrive while a write runs share the
next one, each gets its own results, and a failed write fails exactly its callers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from aion.streams.backends.coalesce import Coalescer


class _Store:
    """Records each write; the first waits for ``release`` so that others queue behind it."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.writes: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail_on = fail_on

    async def write(self, key: str, items: Sequence[str]) -> list[str]:
        self.writes.append(list(items))
        if len(self.writes) == 1:
            await self.release.wait()
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"refused {self.fail_on}")
        return [f"{key}/{item}" for item in items]


async def _queued(store: _Store) -> None:
    """Wait until the first write runs (the later callers then queue behind it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not store.writes:
        assert loop.time() < deadline
        await asyncio.sleep(0.001)


async def test_callers_waiting_behind_a_write_go_in_together() -> None:
    store = _Store()
    coalescer: Coalescer[str, str, str] = Coalescer(store.write)
    first = asyncio.create_task(coalescer.submit("s", ["a"]))
    await _queued(store)
    later = [asyncio.create_task(coalescer.submit("s", [f"b{i}", f"c{i}"])) for i in range(3)]
    other = asyncio.create_task(coalescer.submit("t", ["x"]))  # another key: not held up
    assert await other == ["t/x"]
    store.release.set()
    assert await first == ["s/a"]
    assert [await t for t in later] == [[f"s/b{i}", f"s/c{i}"] for i in range(3)]
    assert store.writes == [["a"], ["x"], ["b0", "c0", "b1", "c1", "b2", "c2"]]


async def test_a_failed_write_fails_its_callers_only() -> None:
    store = _Store(fail_on="bad")
    coalescer: Coalescer[str, str, str] = Coalescer(store.write, limit=2)
    first = asyncio.create_task(coalescer.submit("s", ["a"]))
    await _queued(store)
    # With a limit of 2 records, these go as [bad, y] and then [z]: the first write fails.
    bad = asyncio.create_task(coalescer.submit("s", ["bad"]))
    same_write = asyncio.create_task(coalescer.submit("s", ["y"]))
    next_write = asyncio.create_task(coalescer.submit("s", ["z"]))
    await asyncio.sleep(0)
    store.release.set()
    assert await first == ["s/a"]
    with pytest.raises(ValueError, match="refused bad"):
        await bad
    with pytest.raises(ValueError, match="refused bad"):
        await same_write
    assert await next_write == ["s/z"]
    assert store.writes == [["a"], ["bad", "y"], ["z"]]
