"""``pykronos.client``: ``KronosClient`` with PyKronos's names and signatures over
``aion.Client``.

Differences from PyKronos, all fixes: the non-blocking sender never dies on a failed send (it
retries with backoff, spools what it cannot send and replays it on the next start, and flushes
at interpreter exit); ``get`` resumes with the remaining ``limit`` and raises an error status at
once instead of retrying it; ``log_function`` records the traceback of the exception it saw.
"""

from __future__ import annotations

import copy
import functools
import os
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from aion.client import Client
from aion.client.events_calls import prepare_events
from aion.client.shipper import RouteTarget, Shipper, ShipperConfig
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
        if not blocking:
            self._shipper = Shipper(
                ShipperConfig(
                    url=self._http_url,
                    flush_interval=sleep_block,
                    max_events=1_000_000,
                    max_bytes=256 * 1024 * 1024,
                    spool_dir=spool_dir if spool_dir is not None else _default_spool_dir(),
                    spool_name="pykronos-" + _slug(self._http_url),
                    exit_timeout=5.0,
                    name="KronosClient",
                    api_key=api_key,
                ),
                target=lambda route: RouteTarget(f"{self._http_url}/v1/ingest/{route}"),
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
            stream: [{**copy.deepcopy(e), LIBRARY_FIELD: library} for e in batch]
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
        """Send what the non-blocking client holds now (a no-op when blocking)."""
        if self._shipper is not None:
            self._shipper.flush()

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
                stream, start_time, end_time, start_id=start_id, namespace=namespace
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
        client = self._client
        if timeout is not None:
            client = Client(self._http_url, namespace=self._namespace, timeout=timeout)
        try:
            yield from client.get(
                stream, start_time, end_time, start_id=start_id, limit=limit, order=order,
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
    described: dict[str, Any] = {"message": str(exc), "class": type(exc).__name__}
    if with_stack:
        described["stack_trace"] = traceback.format_exception(exc)
    return described


def _slug(url: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in url.split("://", 1)[-1])[:60]
