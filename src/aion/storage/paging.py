"""Keyset paging over a sort-key range, shared by every event store.

Each page is one bounded query (``k`` between the bounds, ``LIMIT`` page size); the next
page's bounds start just past the last key seen, so no cursor or connection is held between
pages and a reader that stops early leaves nothing open. The next page is fetched while the
current one is handed out, so reading and sending overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, TypeVar

from aion.core.ids import key_predecessor, key_successor

__all__ = ["KeyedPage", "PageFetcher", "keyset_pages"]


class KeyedPage(Protocol):
    """What paging needs of a page: how many events it holds, and the last one's key."""

    def __len__(self) -> int: ...

    @property
    def last_key(self) -> bytes: ...


P = TypeVar("P", bound=KeyedPage)

#: Reads at most ``size`` events with keys in ``[low, high]``, in the iteration's order.
PageFetcher = Callable[[bytes, bytes, int], Awaitable[P]]


async def keyset_pages(
    fetch: PageFetcher[P],
    low: bytes,
    high: bytes,
    *,
    descending: bool,
    limit: int | None,
    page_size: int,
) -> AsyncIterator[P]:
    """The non-empty pages of ``[low, high]`` in key order, at most ``limit`` events."""
    if limit is not None and limit <= 0:
        return
    remaining = limit
    size = page_size if remaining is None else min(page_size, remaining)
    pending = asyncio.ensure_future(fetch(low, high, size))
    try:
        while True:
            page = await pending
            done = len(page) < size
            if remaining is not None:
                remaining -= len(page)
                done = done or remaining <= 0
            if not done:
                last = page.last_key
                if descending:
                    high = key_predecessor(last)
                else:
                    low = key_successor(last)
                size = page_size if remaining is None else min(page_size, remaining)
                pending = asyncio.ensure_future(fetch(low, high, size))
            if len(page):
                yield page
            if done:
                return
    finally:
        if not pending.done():
            pending.cancel()
