"""What ``Client`` and ``AsyncClient`` share, with no I/O: request bodies, time conversion,
response checks, line splitting and the resume rule of ``get``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec

from aion.core.events import ID_FIELD, TIMESTAMP_FIELD
from aion.core.time import kronos_time_now, to_kronos_time
from aion.errors import ResponseError

__all__ = [
    "DEFAULT_URL",
    "GET_RETRIES",
    "BaseClient",
    "LineSplitter",
    "Order",
    "TimeLike",
]

DEFAULT_URL = "http://127.0.0.1:8151"
GET_RETRIES = 10
TimeLike = int | str | Any  # kronos int, ISO string, datetime/date/timedelta

_decode = msgspec.json.Decoder().decode


class Order(StrEnum):
    """Result order of ``get``: by id, ascending or descending."""

    ASCENDING = "ascending"
    DESCENDING = "descending"


class LineSplitter:
    """Splits a streamed body into ``\\r\\n``-terminated lines across chunk boundaries."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._pending + chunk
        lines = data.split(b"\r\n")
        self._pending = lines.pop()
        return [line for line in lines if line]

    def finish(self) -> list[bytes]:
        rest, self._pending = self._pending, b""
        return [rest] if rest.strip() else []


@dataclass(frozen=True, slots=True)
class BaseClient:
    """Settings and pure steps of both clients."""

    url: str = DEFAULT_URL
    namespace: str | None = None
    timeout: float | None = 30.0
    api_key: str | None = None

    def headers(self) -> dict[str, str]:
        """Headers every request carries."""
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def endpoint(self, path: str) -> str:
        return self.url.rstrip("/") + path

    def with_namespace(self, body: dict[str, Any], namespace: str | None) -> dict[str, Any]:
        ns = namespace if namespace is not None else self.namespace
        if ns is not None:
            body["namespace"] = ns
        return body

    @staticmethod
    def prepare_events(
        events: Mapping[str, Sequence[Mapping[str, Any]]], now: int | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Copies of the events with ``@time`` as kronos time: one shared "now" for events
        without it, datetimes and ISO strings converted; the caller's dicts stay untouched."""
        stamp = kronos_time_now() if now is None else now
        prepared: dict[str, list[dict[str, Any]]] = {}
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

    def get_body(
        self,
        stream: str,
        start: TimeLike,
        end: TimeLike,
        *,
        start_id: str | None,
        limit: int | None,
        order: Order | str,
        namespace: str | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "stream": stream,
            "start_time": to_kronos_time(start),
            "end_time": to_kronos_time(end),
            "order": str(Order(order)),
        }
        if start_id is not None:
            body["start_id"] = start_id
        if limit is not None:
            body["limit"] = limit
        return self.with_namespace(body, namespace)

    @staticmethod
    def resume_body(body: dict[str, Any], last_id: str | None, received: int) -> dict[str, Any]:
        """The body that resumes a ``get`` strictly after the last id received."""
        resumed = dict(body)
        if last_id is not None:
            resumed["start_id"] = last_id
        if "limit" in resumed:
            resumed["limit"] = max(0, resumed["limit"] - received)
        return resumed

    @staticmethod
    def decode_lines(lines: Iterable[bytes]) -> list[dict[str, Any]]:
        return [_decode(line) for line in lines]

    @staticmethod
    def check(status: int, content: bytes, *, require_success: bool = True) -> Any:
        """The decoded JSON body, or ResponseError for an error status or ``@success: false``."""
        try:
            body = _decode(content) if content else None
        except msgspec.DecodeError:
            body = content.decode("utf-8", "replace")
        if status >= 400:
            raise ResponseError(_message(body, status), status, body)
        if require_success and isinstance(body, dict) and body.get("@success") is False:
            raise ResponseError(_message(body, status), status, body)
        return body

    @staticmethod
    def last_id(event: Mapping[str, Any]) -> str | None:
        value = event.get(ID_FIELD)
        return value if isinstance(value, str) else None


def _message(body: Any, status: int) -> str:
    if isinstance(body, dict):
        errors = body.get("@errors") or body.get("errors") or body.get("error")
        if errors:
            return f"HTTP {status}: {errors}"
    return f"HTTP {status}: {str(body)[:300]}"
