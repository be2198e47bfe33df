"""The event service: validation, routing and fan-out over the configured stores.

Every write path (Kronos, Initial State, Samsara) comes through here, so the rules are one:
events are validated and given ids, then written to every backend of their route
concurrently; reads come from the route's read backend.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from aion.core.events import (
    EventPage,
    EventRecord,
    LinesPage,
    prepare_event,
    prepare_raw_events,
    validate_stream_name,
)
from aion.core.ids import IdMinter, key_range, sort_key
from aion.core.schema import infer_schema
from aion.core.time import kronos_time_now
from aion.errors import AionError, BackendUnavailable, ValidationError
from aion.server.config import AionConfig
from aion.server.routing import StreamRouter
from aion.storage import EventStore, open_event_store
from aion.storage.protocol import LinesRetrieval

__all__ = ["BackendOutcome", "EventService", "PutOutcome"]

SCHEMA_SAMPLE = 100
T = TypeVar("T")
log = logging.getLogger("aion.server")


@dataclass(slots=True)
class BackendOutcome:
    """What one backend did with one stream's events: a count, or the error it raised (then
    the count is 0: a store writes all of a batch or none of it)."""

    count: int
    error: AionError | None = None


@dataclass(slots=True)
class PutOutcome:
    """Per stream, per backend outcomes, and the validation errors of refused events."""

    streams: dict[str, dict[str, BackendOutcome]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def unavailable(self) -> list[str]:
        """The backends that were down for some stream."""
        return sorted(
            {
                name
                for outcomes in self.streams.values()
                for name, o in outcomes.items()
                if isinstance(o.error, BackendUnavailable)
            }
        )


class EventService:
    """Owns the stores named in the config and answers the event API's questions."""

    def __init__(self, config: AionConfig, stores: Mapping[str, EventStore] | None = None):
        self.config = config
        self.router = StreamRouter(config.routes)
        self.stores: dict[str, EventStore] = (
            dict(stores) if stores is not None
            else {name: open_event_store(url) for name, url in config.backends.items()}
        )  # fmt: skip
        # Called with (namespace, stream, count) after a write every backend acknowledged
        # (the metrics count ingested events here).
        self.on_stored: Callable[[str, str, int], None] | None = None

    async def open(self) -> None:
        """Open every store. One that is down is not fatal: requests that need it get a 503
        naming it, the others are served, and it is connected on first use once it is up."""
        for name, store in self.stores.items():
            try:
                await store.open()
            except BackendUnavailable as exc:
                log.warning("backend %s is down at start-up: %s", name, exc)

    async def close(self) -> None:
        for store in self.stores.values():
            await store.close()

    # -- names ----------------------------------------------------------------------------

    def namespace(self, namespace: object | None) -> str:
        """The namespace to use, validated against the rule and the allow-list."""
        return self.config.served_namespace(namespace)

    # -- writes ---------------------------------------------------------------------------

    async def put(
        self, namespace: str, events_by_stream: Mapping[str, msgspec.Raw | Sequence[Any]]
    ) -> PutOutcome:
        """Kronos put: valid events are stored even when others in the request are refused.

        A stream's events come as a list or as the raw bytes of a JSON array (the HTTP path:
        each event's bytes are kept, not decoded and re-encoded).
        """
        outcome = PutOutcome()
        now = kronos_time_now()
        minter = IdMinter()
        batches: dict[str, EventPage] = {}
        for stream, events in events_by_stream.items():
            try:
                validate_stream_name(stream)
                if isinstance(events, msgspec.Raw):
                    records, refused = prepare_raw_events(events, now, minter)
                elif isinstance(events, list | tuple):
                    records, refused = _prepare_list(events, now, minter)
                else:
                    raise ValidationError(f"events for stream {stream!r} must be a list", stream)
            except ValidationError as exc:
                outcome.errors.append(f"{stream}: {exc}")
                continue
            outcome.errors.extend(f"{stream}[{i}]: {exc}" for i, exc in refused)
            batches[stream] = records
        results = await _all(
            [self._write(namespace, stream, records) for stream, records in batches.items()]
        )
        outcome.streams = dict(zip(batches, results, strict=True))
        return outcome

    async def ingest(
        self,
        namespace: str,
        stream: str,
        events: list[dict[str, Any]],
        partition_keys: list[str] | None = None,
        batch_id: str | None = None,
    ) -> bool:
        """All-or-nothing write of one stream's events (the shippers' APIs use this). False
        when every backend had already stored a batch with this ``batch_id`` (a retry)."""
        validate_stream_name(stream)
        namespace = self.namespace(namespace)
        now = kronos_time_now()
        minter = IdMinter()
        page = EventPage.from_records([prepare_event(e, now, minter) for e in events])
        if partition_keys is not None:
            if len(partition_keys) != len(page):
                raise ValidationError("one partition key per event is needed", "partition_keys")
            page = EventPage(page.keys, page.times, page.payloads, partition_keys)
        outcomes = await self._write(namespace, stream, page, batch_id)
        for outcome in outcomes.values():
            if outcome.error is not None:
                raise outcome.error
        return not len(page) or any(outcome.count > 0 for outcome in outcomes.values())

    async def ingest_valid(
        self,
        namespace: str,
        stream: str,
        events: Sequence[Any],
        batch_id: str | None = None,
    ) -> tuple[bool, int, list[str]]:
        """Kronos's partial success for one stream's batch: the valid events are written
        (together, all or nothing), each refused one is named by its index. Returns whether
        the write was fresh (False: a batch id seen before), how many were written, and the
        refusals."""
        validate_stream_name(stream)
        namespace = self.namespace(namespace)
        page, refused = _prepare_list(events, kronos_time_now(), IdMinter())
        errors = [f"{stream}[{i}]: {exc}" for i, exc in refused]
        if not len(page):
            return True, 0, errors
        outcomes = await self._write(namespace, stream, page, batch_id)
        for outcome in outcomes.values():
            if outcome.error is not None:
                raise outcome.error
        return any(o.count > 0 for o in outcomes.values()), len(page), errors

    async def _write(
        self, namespace: str, stream: str, records: EventPage, batch_id: str | None = None
    ) -> dict[str, BackendOutcome]:
        route = self.router.resolve(namespace, stream)

        async def one(name: str) -> BackendOutcome:
            try:
                inserted = await self.stores[name].insert(namespace, stream, records, batch_id)
                return BackendOutcome(inserted)
            except AionError as exc:
                return BackendOutcome(0, exc)

        outcomes = await _all([one(name) for name in route.backends])
        stored = max((o.count for o in outcomes), default=0)  # 0: a batch id seen before
        if self.on_stored is not None and stored and all(o.error is None for o in outcomes):
            self.on_stored(namespace, stream, stored)
        return dict(zip(route.backends, outcomes, strict=True))

    async def delete(
        self, namespace: str, stream: str, start_time: int, end_time: int, start_id: str | None
    ) -> dict[str, BackendOutcome]:
        """Delete a range from every backend of the stream's route."""
        validate_stream_name(stream)
        bounds = key_range(start_time, end_time, _start_key(start_id))
        route = self.router.resolve(namespace, stream)

        async def one(name: str) -> BackendOutcome:
            if bounds is None:
                return BackendOutcome(0)
            try:
                return BackendOutcome(await self.stores[name].delete(namespace, stream, *bounds))
            except AionError as exc:
                return BackendOutcome(0, exc)

        outcomes = await asyncio.gather(*(one(name) for name in route.backends))
        return dict(zip(route.backends, outcomes, strict=True))

    # -- reads ----------------------------------------------------------------------------

    def retrieve(
        self,
        namespace: str,
        stream: str,
        start_time: int,
        end_time: int,
        start_id: str | None = None,
        *,
        descending: bool = False,
        limit: int | None = None,
    ) -> AsyncIterator[EventPage]:
        """Events of a stream from its read backend, in id order, a page at a time."""
        target = self._read_target(namespace, stream, start_time, end_time, start_id)
        if target is None:
            return _empty()
        store, low, high = target
        return store.retrieve(namespace, stream, low, high, descending=descending, limit=limit)

    def retrieve_lines(
        self,
        namespace: str,
        stream: str,
        start_time: int,
        end_time: int,
        start_id: str | None = None,
        *,
        descending: bool = False,
        limit: int | None = None,
    ) -> AsyncIterator[LinesPage]:
        """``retrieve``'s events as output lines, built by the store when it can."""
        target = self._read_target(namespace, stream, start_time, end_time, start_id)
        if target is None:
            return _empty()
        store, low, high = target
        if isinstance(store, LinesRetrieval):
            return store.retrieve_lines(
                namespace, stream, low, high, descending=descending, limit=limit
            )
        pages = store.retrieve(namespace, stream, low, high, descending=descending, limit=limit)
        return _as_lines(pages)

    def _read_target(
        self, namespace: str, stream: str, start_time: int, end_time: int, start_id: str | None
    ) -> tuple[EventStore, bytes, bytes] | None:
        """The read backend of a stream and the key range of a query (None when empty)."""
        validate_stream_name(stream)
        bounds = key_range(start_time, end_time, _start_key(start_id))
        if bounds is None:
            return None
        return self.stores[self.router.resolve(namespace, stream).read_backend], *bounds

    async def list_streams(self, namespace: str) -> list[str]:
        """Streams of a namespace, each listed by the backend that serves its reads."""
        found: set[str] = set()
        for name in sorted(self.router.read_backends(namespace)):
            for stream in await self.stores[name].list_streams(namespace):
                if self.router.resolve(namespace, stream).read_backend == name:
                    found.add(stream)
        return sorted(found)

    async def infer_schema(self, namespace: str, stream: str) -> dict[str, Any]:
        """The JSON schema of the latest events of a stream."""
        sample = self.retrieve(namespace, stream, 0, 2**62, descending=True, limit=SCHEMA_SAMPLE)
        events = [event async for page in sample for event in _decoded_events(page.payloads)]
        return infer_schema(events)

    async def health(self) -> dict[str, bool]:
        """Whether each backend answers."""
        names = list(self.stores)
        alive = await asyncio.gather(*(self.stores[n].is_alive() for n in names))
        return dict(zip(names, alive, strict=True))


async def _as_lines(pages: AsyncIterator[EventPage]) -> AsyncIterator[LinesPage]:
    async for page in pages:
        yield LinesPage.of(page)


async def _all(calls: list[Coroutine[Any, Any, T]]) -> list[T]:
    """``asyncio.gather``, without its tasks when there is one call (the common put)."""
    if len(calls) == 1:
        return [await calls[0]]
    return list(await asyncio.gather(*calls))


def _prepare_list(
    events: Sequence[Any], now: int, minter: IdMinter
) -> tuple[EventPage, list[tuple[int, ValidationError]]]:
    records: list[EventRecord] = []
    refused: list[tuple[int, ValidationError]] = []
    for i, event in enumerate(events):
        try:
            records.append(prepare_event(event, now, minter))
        except ValidationError as exc:
            refused.append((i, exc))
    return EventPage.from_records(records), refused


_decode_stored = msgspec.json.Decoder().decode


def _decoded_events(payloads: Sequence[bytes]) -> list[Any]:
    """Stored events, decoded; one stored before the depth limit so deep that it cannot be
    decoded at all is left out rather than failing the whole answer."""
    events: list[Any] = []
    for payload in payloads:
        try:
            events.append(_decode_stored(payload))
        except RecursionError:
            continue
    return events


def _start_key(start_id: str | None) -> bytes | None:
    if start_id is None:
        return None
    try:
        return sort_key(uuid.UUID(start_id))
    except (ValueError, TypeError, AttributeError) as exc:
        text = str(start_id)
        shown = text[:40] + "..." if len(text) > 40 else text  # a long one is not echoed whole
        raise ValidationError(f"start_id {shown!r} is not a UUID", "start_id") from exc


async def _empty() -> AsyncIterator[T]:
    nothing: tuple[T, ...] = ()
    for page in nothing:
        yield page
