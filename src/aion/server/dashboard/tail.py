"""The live tail: a stream's new events as server-sent events (``text/event-stream``).

The tail polls the store for events strictly after the last ``@id`` it sent, every
``poll_seconds``, a page of at most ``page_size`` events at a time, so memory stays bounded
whatever the write rate. Polling the store (rather than hooking the write path) also shows
events written by other worker processes and other servers sharing the store.

Each SSE message carries the event's ``@id`` as its SSE id. A connection lives at most
``lifetime_seconds`` and then ends; the browser's ``EventSource`` reconnects by itself and
sends ``Last-Event-ID``, so the tail resumes where it was. The bounded lifetime is what lets a
server shut down promptly: uvicorn waits for open responses to finish before it exits.
Starlette cancels the generator as soon as the client disconnects.

A sharded stream's record is shown with its data decoded (JSON or msgpack; other bytes as
``data_base64``), not as the base64 envelope the store keeps it in.

The tail follows id order, so an event written later whose ``@time`` is not after the last
event sent (a client clock behind, or the very same tick) may not be shown live; it is in the
store all the same.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aion.core.events import EventRecord
from aion.core.ids import id_from_sort_key
from aion.server.dashboard.reads import LATEST, records
from aion.server.service import EventService
from aion.streams.display import is_record_envelope, readable_event

__all__ = ["TailSettings", "shown_payload", "sse_message", "tail_stream"]


@dataclass(frozen=True, slots=True)
class TailSettings:
    """How a tail polls; the defaults suit a person watching a page."""

    backlog: int = 20
    poll_seconds: float = 0.5
    page_size: int = 500
    lifetime_seconds: float = 15.0
    reconnect_ms: int = 1000


def sse_message(event_id: str, data: bytes, kind: str = "event") -> bytes:
    """One SSE message. Compact JSON has no raw newlines, but split anyway: a ``data:`` line
    must not hold one."""
    lines = b"".join(b"data: " + line + b"\n" for line in data.split(b"\n"))
    return b"event: " + kind.encode() + b"\nid: " + event_id.encode() + b"\n" + lines + b"\n"


def _event_id(record: EventRecord) -> str:
    return str(id_from_sort_key(record.key))


def shown_payload(payload: bytes) -> bytes:
    """The JSON the tail sends for a stored event: a sharded-stream record's envelope with
    its data decoded (:func:`aion.streams.display.readable_event`), any other event as
    stored."""
    if b'"partition_key"' not in payload:
        return payload
    try:
        event = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(event, dict) or not is_record_envelope(event):
        return payload
    return json.dumps(readable_event(event), separators=(",", ":")).encode()


async def tail_stream(
    service: EventService,
    namespace: str,
    stream: str,
    after_id: str | None,
    settings: TailSettings = TailSettings(),
) -> AsyncIterator[bytes]:
    """SSE bytes: the ``backlog`` newest events (unless resuming after ``after_id``), then
    new events as they are stored, until ``lifetime_seconds`` have passed."""
    deadline = time.monotonic() + settings.lifetime_seconds
    yield f"retry: {settings.reconnect_ms}\n\n".encode()
    last_id = after_id
    if last_id is None:
        answer = service.retrieve(
            namespace, stream, 0, LATEST, descending=True, limit=settings.backlog
        )
        backlog = [r async for r in records(answer)]
        for record in reversed(backlog):
            last_id = _event_id(record)
            yield sse_message(last_id, shown_payload(record.payload))
    # Tells the page the backlog is complete, so it can say "waiting for events".
    yield b"event: ready\ndata: {}\n\n"
    while time.monotonic() < deadline:
        answer = service.retrieve(namespace, stream, 0, LATEST, last_id, limit=settings.page_size)
        sent = 0
        async for record in records(answer):
            last_id = _event_id(record)
            sent += 1
            yield sse_message(last_id, shown_payload(record.payload))
        if sent < settings.page_size:
            await asyncio.sleep(settings.poll_seconds)
