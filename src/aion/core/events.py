"""Event validation and id assignment: the rules every write path shares.

An event is a JSON object. Aion owns ``@id`` and ``@time``: a missing ``@time`` becomes the
write's "now", a present one must be an integer (floats, strings and booleans are refused),
and ``@id`` is always assigned here, whatever the client sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from aion.core.ids import IdMinter
from aion.errors import InvalidEventTime, InvalidStreamName, ValidationError

__all__ = [
    "ID_FIELD",
    "LINE_END",
    "MAX_STREAM_NAME_LENGTH",
    "TIMESTAMP_FIELD",
    "EventPage",
    "EventRecord",
    "LinesPage",
    "prepare_event",
    "prepare_raw_events",
    "validate_namespace",
    "validate_stream_name",
]

ID_FIELD = "@id"
TIMESTAMP_FIELD = "@time"
MAX_STREAM_NAME_LENGTH = 2048
_STREAM_NAME = re.compile(r"^[\w\-\.]+$")
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An event as stores keep it: its 16-byte sort key, its time, its JSON bytes (with ``@id``
    and ``@time``) and, for sharded streams, its partition key."""

    key: bytes
    time: int
    payload: bytes
    partition_key: str | None = None


@dataclass(frozen=True, slots=True)
class EventPage:
    """A page of events, column by column: reads hand these out so that no per-event object
    is built on the hot path. Iterating yields ``EventRecord``s for convenience."""

    keys: Sequence[bytes]
    times: Sequence[int]
    payloads: Sequence[bytes]
    partition_keys: Sequence[str | None] | None = None

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]]) -> EventPage:
        """A page from ``(key, time, payload)`` rows, transposed in C."""
        keys, times, payloads = zip(*rows, strict=True) if rows else ((), (), ())
        return cls(keys, times, payloads)

    @classmethod
    def from_records(cls, records: Sequence[EventRecord]) -> EventPage:
        pks = [r.partition_key for r in records]
        return cls(
            [r.key for r in records],
            [r.time for r in records],
            [r.payload for r in records],
            pks if any(pk is not None for pk in pks) else None,
        )

    @classmethod
    def of(cls, events: EventPage | Sequence[EventRecord]) -> EventPage:
        """``events`` as a page (a page is returned as is)."""
        return events if isinstance(events, EventPage) else cls.from_records(events)

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[EventRecord]:
        pks = self.partition_keys if self.partition_keys is not None else [None] * len(self)
        for key, t, payload, pk in zip(self.keys, self.times, self.payloads, pks, strict=True):
            yield EventRecord(key, t, payload, pk)

    @property
    def last_key(self) -> bytes:
        """The sort key of the page's last event (where the next page starts)."""
        return self.keys[-1]


LINE_END = b"\r\n"
"""What ends each event in Kronos's line output (``get`` and ``streams``)."""


@dataclass(frozen=True, slots=True)
class LinesPage:
    """A page of events as output lines: their JSON payloads, each followed by ``LINE_END``,
    in one buffer. A store that can build this buffer itself (SQLite aggregates a page in one
    step) spares the server a Python object per event on the read path."""

    lines: bytes
    count: int
    last_key: bytes

    @classmethod
    def of(cls, page: EventPage) -> LinesPage:
        """The lines of an ordinary page."""
        lines = LINE_END.join(page.payloads) + LINE_END if len(page) else b""
        return cls(lines, len(page), page.last_key if len(page) else b"")

    def __len__(self) -> int:
        return self.count


def validate_stream_name(name: object, field: str = "stream") -> str:
    """Return ``name`` when it is a valid stream name, else raise naming ``field``."""
    if not isinstance(name, str):
        raise InvalidStreamName(f"{field} must be a string, not {type(name).__name__}", field)
    if len(name) > MAX_STREAM_NAME_LENGTH:
        raise InvalidStreamName(
            f"{field} is {len(name)} characters long; the limit is {MAX_STREAM_NAME_LENGTH}", field
        )
    if not _STREAM_NAME.match(name) or name.endswith("\n"):
        raise InvalidStreamName(
            f"{field} {name[:80]!r} may only hold letters, digits, '_', '-' and '.'", field
        )
    return name


def validate_namespace(name: object) -> str:
    """Namespaces follow the stream-name rule."""
    return validate_stream_name(name, field="namespace")


def _check_event_time(t: object) -> int:
    if isinstance(t, bool) or not isinstance(t, int):
        raise InvalidEventTime(
            f"@time must be an integer count of 100 ns ticks, not {type(t).__name__} {t!r}",
            TIMESTAMP_FIELD,
        )
    return t


def prepare_event(event: object, now: int, minter: IdMinter | None = None) -> EventRecord:
    """Validate one event, give it ``@time`` (``now`` if absent) and a fresh ``@id``.

    The caller's mapping is not modified. Pass one ``minter`` for a whole batch.
    """
    if not isinstance(event, Mapping):
        raise ValidationError(
            f"an event must be a JSON object, not {type(event).__name__}", "event"
        )
    body: dict[str, Any] = dict(event)
    t = _check_event_time(body.get(TIMESTAMP_FIELD, now))
    key, event_id = (minter or IdMinter()).mint(t)
    body[TIMESTAMP_FIELD] = t
    body[ID_FIELD] = event_id
    try:
        payload = _encode(body)
    except (TypeError, msgspec.EncodeError) as exc:
        raise ValidationError(f"the event is not JSON-serialisable: {exc}", "event") from exc
    return EventRecord(key=key, time=t, payload=payload)


class _Reserved(msgspec.Struct):
    """The one field of an event the write path must read; the rest stays raw bytes."""

    time: Any = msgspec.field(name=TIMESTAMP_FIELD, default=msgspec.UNSET)


_raw_items = msgspec.json.Decoder(list[msgspec.Raw])
_reserved_items = msgspec.json.Decoder(list[_Reserved])
_decode_any = msgspec.json.Decoder()
_ID_NEEDLE = b'"' + ID_FIELD.encode() + b'"'


def prepare_raw_events(
    raw: bytes | msgspec.Raw, now: int, minter: IdMinter | None = None
) -> tuple[EventPage, list[tuple[int, ValidationError]]]:
    """Prepare a JSON array of events without decoding and re-encoding each one.

    Each event's bytes are kept as sent, with ``@id`` (and ``@time`` when absent) spliced in
    before the closing brace; only an event that already carries an ``@id`` key is rebuilt.
    Returns the valid events as a page and ``(index, error)`` for the others. Raises
    ``ValidationError`` when ``raw`` is not a JSON array.
    """
    try:
        items = _raw_items.decode(raw)
    except msgspec.DecodeError as exc:
        raise ValidationError(f"events must be a JSON array of objects: {exc}", "events") from exc
    try:
        reserved: list[_Reserved] | None = _reserved_items.decode(raw)
    except msgspec.ValidationError:
        reserved = None  # some item is not an object: check them one by one
    minter = minter or IdMinter()
    keys: list[bytes] = []
    times: list[int] = []
    payloads: list[bytes] = []
    errors: list[tuple[int, ValidationError]] = []
    unset = msgspec.UNSET
    for index, item in enumerate(items):
        body = bytes(item)
        try:
            if reserved is None or _ID_NEEDLE in body:
                record = prepare_event(_decode_any.decode(body), now, minter)
                keys.append(record.key)
                times.append(record.time)
                payloads.append(record.payload)
                continue
            given = reserved[index].time
            t = now if given is unset else _check_event_time(given)
            key, id_bytes = minter.mint_bytes(t)
            if given is unset:
                extra = b'"@id":"' + id_bytes + b'","@time":' + str(t).encode() + b"}"
            else:
                extra = b'"@id":"' + id_bytes + b'"}'
            if len(body) == 2 or not body[1:-1].strip():
                payloads.append(b"{" + extra)
            else:
                payloads.append(body[:-1] + b"," + extra)
            keys.append(key)
            times.append(t)
        except ValidationError as exc:
            errors.append((index, exc))
    return EventPage(keys, times, payloads), errors
