"""The requests of the event API (``/1.0/...``) and the resume rule of ``get``, without I/O.

:class:`EventCalls` builds each request of ``Client`` and ``AsyncClient`` as a
:class:`~aion.client.http.Call`; :class:`GetPlan` is one ``get``: the request of each attempt,
the events read from the streamed body, and what a dropped connection does (resume strictly
after the last id received, with the remaining ``limit``, up to ``retries`` times with a
growing pause). The two clients only send and sleep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import msgspec

from aion.client.http import Call, HttpSettings, LineSplitter, decode_lines
from aion.core.events import ID_FIELD, TIMESTAMP_FIELD
from aion.core.time import TimeLike, kronos_time_now, to_kronos_time
from aion.errors import RequestError

__all__ = ["EventCalls", "GetPlan", "Order", "TimeLike", "prepare_events"]

Event = dict[str, Any]
_decode = msgspec.json.Decoder().decode


class Order(StrEnum):
    """Result order of ``get``: by id, ascending or descending."""

    ASCENDING = "ascending"
    DESCENDING = "descending"


def prepare_events(
    events: Mapping[str, Sequence[Mapping[str, Any]]], now: int | None = None
) -> dict[str, list[Event]]:
    """Copies of the events with ``@time`` as kronos time: one shared "now" for events without
    it, datetimes and ISO strings converted; the caller's dicts stay untouched."""
    stamp = kronos_time_now() if now is None else now
    prepared: dict[str, list[Event]] = {}
    for stream, batch in events.items():
        out = []
        for event in batch:
            copy = dict(event)
            if TIMESTAMP_FIELD in copy and not isinstance(copy[TIMESTAMP_FIELD], int | float):
                copy[TIMESTAMP_FIELD] = to_kronos_time(copy[TIMESTAMP_FIELD])
            else:
                copy.setdefault(TIMESTAMP_FIELD, stamp)
            out.append(copy)
        prepared[stream] = out
    return prepared


def _as_dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("the answer is not a JSON object")
    return value


class GetPlan:
    """One ``get``: what to send on each attempt and the events its answers hold.

    A twin drives it: send :meth:`call`, :meth:`feed` every chunk (then :meth:`finish`) and
    hand out the events; when the connection drops, sleep :meth:`dropped` seconds and go
    again. An error status is raised by the transport and never retried.
    """

    def __init__(self, body: dict[str, Any], stream: str, retries: int) -> None:
        self._body = body
        self._stream = stream
        self._retries = retries
        self._received = 0
        self._last_id: str | None = None
        self._failures = 0
        self._splitter = LineSplitter()

    def call(self) -> Call[None]:
        """The request of the next attempt: strictly after the last id received, for what
        is left of ``limit``."""
        body = dict(self._body)
        if self._last_id is not None:
            body["start_id"] = self._last_id
        if "limit" in body:
            body["limit"] = max(0, body["limit"] - self._received)
        self._splitter = LineSplitter()
        return Call("POST", "/1.0/events/get", lambda _: None, body)

    def feed(self, chunk: bytes) -> list[Event]:
        """The events completed by ``chunk``."""
        return self._take(self._splitter.feed(chunk))

    def finish(self) -> list[Event]:
        """The last event, when the body did not end with a line break."""
        return self._take(self._splitter.finish())

    def _take(self, lines: list[bytes]) -> list[Event]:
        events: list[Event] = [_decode(line) for line in lines]
        for event in events:
            last = event.get(ID_FIELD)
            if isinstance(last, str):
                self._last_id = last
        self._received += len(events)
        return events

    def dropped(self, error: RequestError) -> float:
        """Seconds to wait before resuming after ``error``; raises when the retries are
        spent."""
        self._failures += 1
        if self._failures > self._retries:
            raise RequestError(
                f"get {self._stream!r} failed after {self._retries} retries: {error}"
            ) from error
        return 0.1 * self._failures


class EventCalls:
    """The requests of the event API; ``namespace=None`` means the settings' namespace."""

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings

    def _with_namespace(self, body: dict[str, Any], namespace: str | None) -> dict[str, Any]:
        ns = namespace if namespace is not None else self.settings.namespace
        if ns is not None:
            body["namespace"] = ns
        return body

    def _range(
        self,
        stream: str,
        start: TimeLike,
        end: TimeLike,
        start_id: str | None,
        namespace: str | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "stream": stream,
            "start_time": to_kronos_time(start),
            "end_time": to_kronos_time(end),
        }
        if start_id is not None:
            body["start_id"] = start_id
        return self._with_namespace(body, namespace)

    def index(self) -> Call[dict[str, Any]]:
        return Call("GET", "/1.0/index", _as_dict)

    def put(
        self,
        events: Mapping[str, Sequence[Mapping[str, Any]]],
        namespace: str | None,
        require_success: bool,
    ) -> Call[dict[str, Any]]:
        body = self._with_namespace({"events": prepare_events(events)}, namespace)
        return Call("POST", "/1.0/events/put", _as_dict, body, require_success=require_success)

    def get(
        self,
        stream: str,
        start: TimeLike,
        end: TimeLike,
        *,
        start_id: str | None,
        limit: int | None,
        order: Order | str,
        namespace: str | None,
        retries: int | None,
    ) -> GetPlan:
        body = self._range(stream, start, end, start_id, namespace)
        body["order"] = str(Order(order))
        if limit is not None:
            body["limit"] = limit
        return GetPlan(body, stream, self.settings.retries if retries is None else retries)

    def delete(
        self,
        stream: str,
        start: TimeLike,
        end: TimeLike,
        start_id: str | None,
        namespace: str | None,
    ) -> Call[dict[str, Any]]:
        body = self._range(stream, start, end, start_id, namespace)
        return Call("POST", "/1.0/events/delete", _as_dict, body)

    def streams(self, namespace: str | None) -> Call[list[str]]:
        body = self._with_namespace({}, namespace)
        return Call("POST", "/1.0/streams", list, body, decode=decode_lines)

    def infer_schema(self, stream: str, namespace: str | None) -> Call[dict[str, Any]]:
        body = self._with_namespace({"stream": stream}, namespace)
        return Call("POST", "/1.0/streams/infer_schema", _as_dict, body)
