"""The EventStore contract: time-indexed storage with Kronos semantics.

Stores speak sort keys (16 bytes whose byte order is the id order, see ``aion.core.ids``),
kronos times and JSON bytes. A query's range is inclusive at both ends and already computed
by the caller (``aion.core.ids.key_range``), so every backend answers the same question.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from aion.core.events import EventPage, EventRecord, LinesPage

__all__ = [
    "EventPage",
    "EventRecord",
    "EventStore",
    "LinesPage",
    "LinesRetrieval",
    "WriteHealth",
    "flatten",
]


@runtime_checkable
class EventStore(Protocol):
    """A backend that keeps events per (namespace, stream), ordered by id."""

    async def open(self) -> None:
        """Connect and create what is missing (tables, files). Idempotent."""

    async def close(self) -> None:
        """Release connections and threads. Idempotent."""

    async def insert(
        self,
        namespace: str,
        stream: str,
        events: EventPage | Sequence[EventRecord],
        batch_id: str | None = None,
    ) -> int:
        """Store ``events`` (a page, or records) durably, all or none; return how many.

        With a ``batch_id`` (a client's id for the request, reused on its retries), nothing is
        stored and 0 is returned when this store already stored a batch of that id in the
        stream: the id is recorded in the same transaction as the events.
        """

    def retrieve(
        self,
        namespace: str,
        stream: str,
        low: bytes,
        high: bytes,
        *,
        descending: bool = False,
        limit: int | None = None,
    ) -> AsyncIterator[EventPage]:
        """The events whose keys lie in ``[low, high]``, in key order, at most ``limit``, as
        non-empty ``EventPage``s (column by column), so callers work a page at a time.

        Results stream: a backend holds one page at a time, never the whole answer.
        """

    async def delete(self, namespace: str, stream: str, low: bytes, high: bytes) -> int:
        """Delete the events whose keys lie in ``[low, high]``; return how many went."""

    async def list_streams(self, namespace: str) -> list[str]:
        """The names of the streams of ``namespace`` that hold at least one event, sorted."""

    async def is_alive(self) -> bool:
        """Whether the backend answers now."""


@runtime_checkable
class LinesRetrieval(Protocol):
    """An EventStore that can also answer ``retrieve`` as ready-made output lines (optional:
    the server builds the lines itself from ``retrieve``'s pages for other stores)."""

    def retrieve_lines(
        self,
        namespace: str,
        stream: str,
        low: bytes,
        high: bytes,
        *,
        descending: bool = False,
        limit: int | None = None,
    ) -> AsyncIterator[LinesPage]:
        """``retrieve``'s events, each page as one buffer of ``LINE_END``-ended payloads."""


@runtime_checkable
class WriteHealth(Protocol):
    """An EventStore that knows when its writes fail although it answers (a full disk), so
    readiness can say so (optional: readiness asks other stores ``is_alive`` only)."""

    async def write_problem(self) -> str | None:
        """None while writes succeed; else why they fail (e.g. ``disk full``). When the last
        write failed, a small probe write is tried first, so the answer clears as soon as
        writes work again even when no client writes."""


async def flatten(pages: AsyncIterator[EventPage]) -> AsyncIterator[EventRecord]:
    """The events of a paged answer, one at a time."""
    async for page in pages:
        for record in page:
            yield record
