"""``pykronos.client``: ``KronosClient`` with PyKronos's names and signatures over
``aion.Client``.

As PyKronos: the non-blocking sender sends what is queued every ``sleep_block`` seconds; a
put's valid events are stored even when others in its batch are refused (Kronos's partial
success; the refused ones are logged and raised by the next ``flush``); times are read by
PyKronos's rules (:mod:`.times`); ``exception.class`` is ``<module>.<class>``.

Differences from PyKronos, all fixes: the non-blocking sender never dies on a failed send (it
retries with backoff, spools what it cannot send and replays it on the next start, and flushes
at interpreter exit); ``get`` resumes with the remaining ``limit`` and raises an error status at
once instead of retrying it; ``log_function`` records the traceback of the exception it saw.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from aion.client import Client
from aion.client.events_calls import prepare_events
from aion.client.shipper import (
    AttemptResult,
    Batch,
    FlushSchedule,
    RouteTarget,
    Shipper,
    ShipperConfig,
    Verdict,
)
from aion.client.shipper.retry import classify_status
from aion.compat.pykronos.times import pykronos_time
from aion.core.events import ID_FIELD, TIMESTAMP_FIELD
from aion.core.time import kronos_time_now
from aion.errors import KronosClientError, RequestError, ResponseError
from aion.version import __version__

__all__ = [
    "ERRORS_FIELD",
    "ID_FIELD",
    "LIBRARY_FIELD",
    "SUCCESS_FIELD",
    "TIMESTAMP_FIELD",
    "KronosClient",
    "KronosClientError",
    "ResultOrder",
]

LIBRARY_FIELD = "@library"
SUCCESS_FIELD = "@success"
ERRORS_FIELD = "@errors"
P = ParamSpec("P")
log = logging.getLogger("aion.compat.pykronos")
R = TypeVar("R")


class ResultOrder:
    """``get``'s order argument."""

    ASCENDING = "ascending"
    DESCENDING = "descending"


def _default_spool_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aion" / "spool"


class KronosClient:
    """PyKronos's client. ``blocking=False`` queues puts and sends them every ``sleep_block``
    seconds from a background thread."""

    def __init__(
        self,
        http_url: str,
        blocking: bool = True,
        sleep_block: float = 0.1,
        namespace: str | None = None,
        chunk_size: int = 131072,
        *,
        spool_dir: str | Path | None = None,
        api_key: str | None = None,
    ) -> None:
        self._http_url = http_url.rstrip("/")
        self._blocking = blocking
        self._sleep_block = sleep_block
        self._namespace = namespace
        self._chunk_size = chunk_size
        self._client = Client(self._http_url, namespace=namespace, api_key=api_key)
        self._shipper: Shipper | None = None
        self._refused: list[str] = []
        self._refused_lock = threading.Lock()
        if not blocking:
            self._shipper = Shipper(
                ShipperConfig(
                    url=self._http_url,
                    flush_interval=sleep_block,
                    # PyKronos's sender sent what was queued every sleep_block seconds: an
                    # event waits at most that long, not always that long.
                    flush_schedule=FlushSchedule.TICK,
                    max_events=1_000_000,
                    max_bytes=256 * 1024 * 1024,
                    spool_dir=spool_dir if spool_dir is not None else _default_spool_dir(),
                    spool_name="pykronos-" + _slug(self._http_url),
                    exit_timeout=5.0,
                    name="KronosClient",
                    api_key=api_key,
                ),
                # partial=true: Kronos's partial success, so one bad event does not cost
                # the valid ones batched with it.
                target=lambda route: RouteTarget(
                    f"{self._http_url}/v1/ingest/{route}?partial=true"
                ),
                classifier=self._judge,
                on_reject=self._on_reject,
            )

    @property
    def shipper(self) -> Shipper | None:
        """The non-blocking sender (its ``counters`` show queued, sent, retried, dropped,
        spilled)."""
        return self._shipper

    # -- writes -----------------------------------------------------------------------------

    def put(
        self, event_dict: Mapping[str, list[dict[str, Any]]], namespace: str | None = None
    ) -> dict[str, Any] | None:
        """Insert events per stream. Blocking: the server's answer, or KronosClientError when
        anything failed. Non-blocking: queue them and return None."""
        now = kronos_time_now()
        library = {"name": "aion.compat.pykronos", "version": __version__}
        events = {
            stream: [_with_time({**copy.deepcopy(e), LIBRARY_FIELD: library}) for e in batch]
            for stream, batch in event_dict.items()
        }
        prepared = prepare_events(events, now)
        if self._shipper is None:
            try:
                return self._client.put(prepared, namespace=namespace)
            except (ResponseError, RequestError) as exc:
                raise KronosClientError(str(exc)) from exc
        ns = namespace if namespace is not None else self._namespace
        for stream, batch in prepared.items():
            route = f"{ns}/{stream}" if ns is not None else stream
            for event in batch:
                self._shipper.put(event, route)
        return None

    def flush(self) -> None:
        """Send what the non-blocking client holds now and return once it is stored (a no-op
        when blocking). As PyKronos's ``flush``, raises ``KronosClientError`` ("Encountered
        errors ...") when the server refused events since the previous ``flush``; the valid
        events sent with them are stored."""
        if self._shipper is None:
            return
        self._shipper.flush()
        with self._refused_lock:
            refused, self._refused = self._refused, []
        if refused:
            raise KronosClientError(f"Encountered errors {refused}")

    # -- the non-blocking sender's hooks ------------------------------------------------------

    def _judge(self, result: AttemptResult) -> Verdict:
        """The shipper's verdict, noting the events a partially stored batch had refused."""
        verdict = classify_status(result.status)
        if verdict is Verdict.SENT and result.body:
            try:
                errors = json.loads(result.body).get(ERRORS_FIELD)
            except (ValueError, AttributeError):
                errors = None
            if errors:
                self._note_refused([str(e) for e in errors])
        return verdict

    def _on_reject(self, batch: Batch, result: AttemptResult) -> None:
        try:
            errors = json.loads(result.body).get(ERRORS_FIELD) or []
        except (ValueError, AttributeError):
            errors = []
        found = [str(e) for e in errors] or [f"status {result.status}"]
        self._note_refused([f"{batch.route}: {e}" for e in found])

    def _note_refused(self, errors: list[str]) -> None:
        # PyKronos's sender raised "Encountered errors [...]" (and died); this one logs it,
        # keeps sending, and the next flush() raises it.
        log.error("Encountered errors %s", errors)
        with self._refused_lock:
            self._refused.extend(errors)

    def close(self) -> None:
        """Flush and stop the sender; close connections."""
        if self._shipper is not None:
            self._shipper.close()
        self._client.close()

    def delete(
        self,
        stream: str,
        start_time: Any,
        end_time: Any,
        start_id: str | None = None,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """Delete a range; the server's answer with counts per backend."""
        try:
            return self._client.delete(
                stream,
                pykronos_time(start_time, "start_time"),
                pykronos_time(end_time, "end_time"),
                start_id=start_id,
                namespace=namespace,
            )
        except (ResponseError, RequestError) as exc:
            raise KronosClientError(str(exc)) from exc

    # -- reads ------------------------------------------------------------------------------

    def get(
        self,
        stream: str,
        start_time: Any,
        end_time: Any,
        start_id: str | None = None,
        limit: int | None = None,
        order: str = ResultOrder.ASCENDING,
        namespace: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The events of a range, streamed; resumes after the last id on a dropped
        connection."""
        start = pykronos_time(start_time, "start_time")
        end = pykronos_time(end_time, "end_time")
        client = self._client
        if timeout is not None:
            client = Client(self._http_url, namespace=self._namespace, timeout=timeout)
        try:
            yield from client.get(
                stream, start, end, start_id=start_id, limit=limit, order=order,
                namespace=namespace,
            )  # fmt: skip
        except RequestError as exc:
            if "timed out" in str(exc).lower() or "timeout" in str(exc).lower():
                raise KronosClientError("Request timed out.") from exc
            raise KronosClientError(str(exc)) from exc
        except ResponseError as exc:
            raise KronosClientError(str(exc)) from exc
        finally:
            if client is not self._client:
                client.close()

    def get_streams(self, namespace: str | None = None) -> Iterator[str]:
        """The streams of the namespace."""
        try:
            yield from self._client.streams(namespace=namespace)
        except (ResponseError, RequestError) as exc:
            raise KronosClientError(str(exc)) from exc

    def infer_schema(self, stream: str, namespace: str | None = None) -> dict[str, Any]:
        """The server's answer, whose ``schema`` is inferred from the latest events."""
        try:
            return self._client.infer_schema(stream, namespace=namespace)
        except (ResponseError, RequestError) as exc:
            raise KronosClientError(str(exc)) from exc

    def index(self) -> dict[str, Any]:
        """``GET /1.0/index``."""
        try:
            return self._client.index()
        except (ResponseError, RequestError) as exc:
            raise KronosClientError(str(exc)) from exc

    # -- instrumentation --------------------------------------------------------------------

    def log_function(
        self,
        stream_name: str,
        properties: Mapping[str, Callable[..., Any]] | None = None,
        log_function_stack_trace: bool = False,
        log_exception_stack_trace: bool = False,
        namespace: str | None = None,
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """A decorator that records each call's ``duration``, the given properties (each
        computed from the call's arguments) and any exception, which it re-raises."""
        props = dict(properties or {})

        def decorator(function: Callable[P, R]) -> Callable[P, R]:
            @functools.wraps(function)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                event: dict[str, Any] = {}
                started = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                except Exception as exc:
                    event["exception"] = _describe(exc, log_exception_stack_trace)
                    raise
                finally:
                    event["duration"] = time.perf_counter() - started
                    for key, compute in props.items():
                        event[key] = compute(*args, **kwargs)
                    if log_function_stack_trace:
                        event["stack_trace"] = traceback.format_stack()[:-1]
                    self.put({stream_name: [event]}, namespace=namespace)

            return wrapper

        return decorator

    @contextmanager
    def log_scope(
        self,
        stream_name: str,
        properties: Mapping[str, Any] | None = None,
        log_scope_stack_trace: bool = False,
        log_exception_stack_trace: bool = False,
        namespace: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """A context manager that yields the event to fill, records it with the scope's
        ``duration`` and any exception, and, as PyKronos did, swallows that exception."""
        event: dict[str, Any] = dict(properties or {})
        started = time.perf_counter()
        try:
            yield event
        except Exception as exc:
            event["exception"] = _describe(exc, log_exception_stack_trace)
        finally:
            event["duration"] = time.perf_counter() - started
            if log_scope_stack_trace:
                event["stack_trace"] = traceback.format_stack()[:-2]
            self.put({stream_name: [event]}, namespace=namespace)


def _describe(exc: BaseException, with_stack: bool) -> dict[str, Any]:
    # PyKronos logged "<module>.<class>": "exceptions.ValueError" on Python 2, so
    # "builtins.ValueError" here, and "myapp.errors.Refused" for an exception of one's own.
    kind = type(exc)
    described: dict[str, Any] = {"message": str(exc), "class": f"{kind.__module__}.{kind.__name__}"}
    if with_stack:
        described["stack_trace"] = traceback.format_exception(exc)
    return described


def _with_time(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with a string or datetime ``@time`` read as PyKronos read it."""
    stamp = event.get(TIMESTAMP_FIELD)
    if stamp is not None and not isinstance(stamp, int | float):
        event[TIMESTAMP_FIELD] = pykronos_time(stamp, TIMESTAMP_FIELD)
    return event


def _slug(url: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in url.split("://", 1)[-1])[:60]
