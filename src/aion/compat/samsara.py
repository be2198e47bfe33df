"""``samsara_sdk.SamsaraClient`` on Aion's shipper: same configuration keys and defaults.

The names of ``samsara_sdk.client``, ``samsara_sdk.constants`` and ``samsara_sdk.helpers`` are
here too (``DEFAULT_CONFIG``, ``API_PATH``, ``PUBLISHED_TIMESTAMP_HEADER``, ``COMPRESSION``,
``InvalidEvent``, ``InvalidConfiguration``, ``InvalidArguement``, ``current_time_millis``,
``seconds_to_millis``, ``millis_to_seconds``, ``validate_events``), so
``from aion.compat.samsara import SamsaraClient`` is the only line to change.

What is fixed: a path in ``url`` is kept (``http://h/prefix/`` posts to ``/prefix/v1/events``);
sub-second ``publish_interval``/``send_timeout`` work (no busy loop); ``compression`` takes
``"gzip"``, ``"none"`` or None; only events actually sent leave the buffer (no race with events
recorded during a send); the publisher thread is a daemon that never dies on an error, retries
with backoff and spools what it cannot send; pending events are flushed (bounded) at exit;
``publish_events`` validates; a failed publish raises ``ResponseError``/``RequestError``
instead of a bare ``raise``; a missing ``sourceId`` raises ``InvalidEvent``, not KeyError.

One key more than the SDK's: ``api_key``, sent as ``Authorization: Bearer <key>`` to a server
that has API keys (None, the default, sends none).
"""

from __future__ import annotations

import gzip
import time
import uuid
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import msgspec

from aion.client.http import auth_headers, decode_error
from aion.client.shipper import (
    BATCH_ID_HEADER,
    Compression,
    OverflowPolicy,
    RetryPolicy,
    RouteTarget,
    Shipper,
    ShipperConfig,
)
from aion.client.shipper.retry import Verdict, backoff_delay, classify_status, parse_retry_after
from aion.errors import (
    InvalidArguement,
    InvalidConfiguration,
    InvalidEvent,
    RequestError,
    ResponseError,
)

__all__ = [
    "API_PATH",
    "COMPRESSION",
    "DEFAULT_CONFIG",
    "PUBLISHED_TIMESTAMP_HEADER",
    "InvalidArguement",
    "InvalidConfiguration",
    "InvalidEvent",
    "SamsaraClient",
    "current_time_millis",
    "millis_to_seconds",
    "seconds_to_millis",
    "validate_events",
]

PUBLISHED_TIMESTAMP_HEADER = "X-Samsara-publishedTimestamp"
API_PATH = "/v1/events"


class COMPRESSION(StrEnum):
    """The allowed ``compression`` values."""

    GZIP = "gzip"
    NONE = "none"


DEFAULT_CONFIG: dict[str, Any] = {
    "start_publishing_thread": True,
    "publish_interval": 30000,
    "max_buffer_size": 10000,
    "min_buffer_size": 100,
    "send_timeout": 30000,
    "compression": COMPRESSION.GZIP,
}


InvalidArgument = InvalidArguement


def current_time_millis() -> int:
    """Now, in integer milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def seconds_to_millis(s: float) -> int:
    """Seconds as integer milliseconds."""
    return int(s * 1000)


def millis_to_seconds(m: float) -> float:
    """Milliseconds as float seconds (the SDK truncated to whole seconds)."""
    return m / 1000


def _event_problem(event: object) -> str | None:
    if not isinstance(event, Mapping):
        return "an event must be a mapping"
    problems = []
    for name in ("sourceId", "eventName"):
        if not isinstance(event.get(name), str):
            problems.append(f"{name}: required string")
    ts = event.get("timestamp")
    if isinstance(ts, bool) or not isinstance(ts, int) or ts < 0:
        problems.append("timestamp: required integer >= 0")
    return "; ".join(problems) or None


def validate_events(events: object) -> list[Mapping[str, Any]]:
    """Validate one event or an iterable of events; raises ``InvalidEvent`` naming the field."""
    if isinstance(events, Mapping) or not isinstance(events, Iterable):
        items: list[Any] = [events]
    else:
        items = list(events)
    for index, event in enumerate(items):
        problem = _event_problem(event)
        if problem is not None:
            field = problem.split(":", 1)[0] if ":" in problem else "event"
            raise InvalidEvent(f"Invalid event found, errors: [{index}] {problem}", field)
    return items


def _read_config(config: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**DEFAULT_CONFIG, **config}
    url = merged.get("url")
    if not isinstance(url, str) or not url:
        raise InvalidConfiguration("Missing Samsara's ingestion api endpoint url.")
    compression = merged["compression"]
    if compression is None or compression == "none":
        merged["compression"] = None
    elif compression != "gzip":
        raise InvalidConfiguration(
            f"compression must be 'gzip', 'none' or None, not {compression!r}"
        )
    for key in ("publish_interval", "send_timeout"):
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InvalidConfiguration(f"{key} must be a number of milliseconds >= 0")
        if not value:  # 0 means the default, as in the SDK
            merged[key] = DEFAULT_CONFIG[key]
    if merged["max_buffer_size"] < 1:
        raise InvalidConfiguration("max_buffer_size must be at least 1")
    if merged["min_buffer_size"] < 1 or merged["min_buffer_size"] > merged["max_buffer_size"]:
        merged["min_buffer_size"] = 1
    merged["endpoint"] = url.rstrip("/") + API_PATH
    return merged


class SamsaraClient:
    """Records events into a ring buffer published in the background; or publishes now."""

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        spool_dir: str | Path | None = None,
        **config: Any,
    ) -> None:
        self.config = _read_config(config)
        cfg = self.config
        self._compressed = cfg["compression"] == "gzip"
        self._timeout = millis_to_seconds(cfg["send_timeout"])
        self._retry = RetryPolicy(max_attempts=5, base=0.5, cap=30)
        self._http = httpx.Client(transport=transport, timeout=self._timeout)
        self._shipper = Shipper(
            ShipperConfig(
                url=cfg["endpoint"],
                max_events=cfg["max_buffer_size"],
                overflow=OverflowPolicy.DROP_OLDEST,
                max_batch_events=cfg["max_buffer_size"],
                max_batch_bytes=16 * 1024 * 1024,
                min_batch=cfg["min_buffer_size"],
                flush_interval=millis_to_seconds(cfg["publish_interval"]),
                send_timeout=self._timeout,
                retry=self._retry,
                compression=Compression.GZIP if self._compressed else Compression.NONE,
                gzip_min_bytes=0,
                spool_dir=Path(spool_dir) if spool_dir else None,
                spool_name="samsara",
                name="samsara",
                api_key=cfg.get("api_key"),
            ),
            transport=transport,
            autostart=bool(cfg["start_publishing_thread"]),
            target=self._target,
        )

    def _target(self, route: str) -> RouteTarget:
        # Called on every attempt, so the published timestamp is the attempt's.
        return RouteTarget(
            self.config["endpoint"],
            {PUBLISHED_TIMESTAMP_HEADER: str(current_time_millis())},
        )

    def _enrich_event(self, event: dict[str, Any]) -> dict[str, Any]:
        if not event.get("sourceId"):
            source = self.config.get("sourceId")
            if source is None:
                raise InvalidEvent("the event has no sourceId and none is configured", "sourceId")
            event["sourceId"] = source
        if not event.get("timestamp"):
            event["timestamp"] = current_time_millis()
        return event

    def record_event(self, **event: Any) -> None:
        """Fill ``sourceId`` and ``timestamp`` when missing, validate, and buffer the event."""
        self._enrich_event(event)
        validate_events([event])
        self._shipper.put(event)

    def publish_events(self, events: Iterable[Mapping[str, Any]]) -> bool:
        """Validate and send ``events`` now (with retries); True on success."""
        batch = validate_events(list(events))
        body = msgspec.json.encode(batch)
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip" if self._compressed else "identity",
            BATCH_ID_HEADER: _batch_id(),
            **auth_headers(self.config.get("api_key")),
        }
        if self._compressed:
            body = gzip.compress(body, mtime=0)
        status: int | None = None
        error: Exception | None = None
        for failures in range(1, self._retry.max_attempts + 1):
            headers[PUBLISHED_TIMESTAMP_HEADER] = str(current_time_millis())
            try:
                response = self._http.post(self.config["endpoint"], content=body, headers=headers)
            except httpx.HTTPError as exc:
                status, error, retry_after = None, exc, None
            else:
                verdict = classify_status(response.status_code)
                if verdict is Verdict.SENT:
                    return True
                if verdict is Verdict.REJECTED:
                    refused = decode_error(response.status_code, response.content)
                    raise ResponseError(
                        f"Samsara refused the events: {refused}",
                        refused.status,
                        refused.body,
                        refused.field,
                    )
                status, error = response.status_code, None
                retry_after = parse_retry_after(response.headers.get("retry-after"), time.time())
            if failures < self._retry.max_attempts:
                time.sleep(backoff_delay(self._retry, failures, retry_after))
        raise RequestError(f"could not publish events: {error or f'status {status}'}")

    # -- buffer inspection, as the SDK's tests use it ---------------------------------------

    @property
    def _buffer(self) -> list[dict[str, Any]]:
        return [msgspec.json.decode(p) for p in self._shipper.held_events()]

    def _buffer_is_ready(self) -> bool:
        minimum: int = self.config["min_buffer_size"]
        return self._shipper.counters.depth >= minimum

    def _flush_buffer_if_ready(self) -> None:
        if self._buffer_is_ready():
            self._shipper.flush()

    # -- lifecycle ---------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Publish everything buffered now; True only when every event was delivered (the
        buffer emptied in time, and none was refused, dropped or spooled since the last flush)."""
        return self._shipper.flush(timeout)

    def stop_consuming(self) -> None:
        """Stop publishing: flush what is buffered (bounded), spool the rest."""
        self._shipper.close()

    def close(self) -> None:
        """Stop publishing and release the HTTP connections."""
        self._shipper.close()
        self._http.close()

    def __enter__(self) -> SamsaraClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def counters(self) -> dict[str, int]:
        """The shipper's counters: queued, sent, retried, dropped, spilled..."""
        return self._shipper.counters.as_dict()


def _batch_id() -> str:
    return uuid.uuid4().hex
