"""Appends to one stream that arrive while one is being written go to the store together.

A PostgreSQL shard takes one transaction at a time (its row lock orders the sequence
numbers), so concurrent appends to a stream would each wait for the others' commits. Instead,
the first append of a stream writes; those that arrive meanwhile queue, and when it is done
they are written as one batch, one transaction and one commit, and each caller gets its own
part of the result. The order of records within each caller's batch is kept, and a caller's
records are never split across two transactions. A failure fails every caller of that write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Coalescer"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")

MAX_COALESCED = 5000
"""Records per combined write; a caller's batch larger than this is written alone."""


@dataclass(slots=True)
class _Lane(Generic[T, R]):
    waiting: list[tuple[Sequence[T], asyncio.Future[list[R]]]] = field(default_factory=list)
    busy: asyncio.Task[None] | None = None


class Coalescer(Generic[K, T, R]):
    """Runs ``write(key, items)`` for the items of every caller waiting on ``key``."""

    def __init__(
        self, write: Callable[[K, Sequence[T]], Awaitable[list[R]]], limit: int = MAX_COALESCED
    ) -> None:
        self._write = write
        self._limit = limit
        self._lanes: dict[K, _Lane[T, R]] = {}

    async def submit(self, key: K, items: Sequence[T]) -> list[R]:
        """The results of ``items`` (one per item, in order), written alone or with others."""
        lane = self._lanes.setdefault(key, _Lane())
        future: asyncio.Future[list[R]] = asyncio.get_running_loop().create_future()
        lane.waiting.append((items, future))
        if lane.busy is None:
            lane.busy = asyncio.create_task(self._drain(key, lane))
        return await asyncio.shield(future)

    async def _drain(self, key: K, lane: _Lane[T, R]) -> None:
        try:
            while lane.waiting:
                group = self._take(lane)
                items = [item for part, _ in group for item in part]
                try:
                    results = await self._write(key, items)
                except Exception as exc:  # handed to every caller of this write
                    _fail(group, exc)
                    continue
                except BaseException as exc:  # cancelled: no caller is left waiting forever
                    _fail([*group, *lane.waiting], exc)
                    lane.waiting.clear()
                    raise
                start = 0
                for part, future in group:
                    if not future.done():
                        future.set_result(results[start : start + len(part)])
                    start += len(part)
        finally:
            lane.busy = None
            if not lane.waiting and self._lanes.get(key) is lane:
                del self._lanes[key]

    def _take(self, lane: _Lane[T, R]) -> list[tuple[Sequence[T], asyncio.Future[list[R]]]]:
        """The callers written next: the first, and those after it while under the limit."""
        taken = [lane.waiting.pop(0)]
        size = len(taken[0][0])
        while lane.waiting and size + len(lane.waiting[0][0]) <= self._limit:
            size += len(lane.waiting[0][0])
            taken.append(lane.waiting.pop(0))
        return taken


def _fail(group: Sequence[tuple[object, asyncio.Future[list[R]]]], exc: BaseException) -> None:
    for _, future in group:
        if not future.done():
            future.set_exception(exc)
