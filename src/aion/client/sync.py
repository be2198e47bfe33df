"""``aion.Client``: the blocking client for the event API; it only sends what
:mod:`aion.client.events_calls` builds."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from aion.client.events_calls import EventCalls, Order
from aion.client.http import DEFAULT_RETRIES, DEFAULT_TIMEOUT, DEFAULT_URL, HttpSettings
from aion.client.transport import SyncTransport
from aion.core.time import TimeLike
from aion.errors import RequestError

__all__ = ["Client"]


class Client:
    """A blocking client: ``put``, ``get``, ``delete``, ``streams``, ``infer_schema``, ``index``.

    ``api_key`` is sent as a bearer token (a server with keys answers 401 without one);
    ``retries`` is how many times ``get`` resumes after a dropped connection.

    >>> with Client("http://127.0.0.1:8151") as aion:          # doctest: +SKIP
    ...     aion.put({"clicks": [{"user": 1}]})
    ...     for event in aion.get("clicks", "-1h", "now"): ...
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        namespace: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        retries: int = DEFAULT_RETRIES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = HttpSettings(url, namespace, timeout, api_key, retries)
        self._calls = EventCalls(self.settings)
        self._http = SyncTransport(self.settings, transport)

    @property
    def url(self) -> str:
        return self.settings.url

    @property
    def namespace(self) -> str | None:
        return self.settings.namespace

    def index(self) -> dict[str, Any]:
        """The server's identity and the health of its backends."""
        return self._http.send(self._calls.index())

    def put(
        self,
        events: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        namespace: str | None = None,
        require_success: bool = True,
    ) -> dict[str, Any]:
        """Insert events per stream and return the server's answer.

        Raises ``ResponseError`` when any event was refused (the valid ones are stored:
        Kronos's partial success) unless ``require_success`` is False.
        """
        return self._http.send(self._calls.put(events, namespace, require_success))

    def get(
        self,
        stream: str,
        start: TimeLike,
        end: TimeLike,
        *,
        start_id: str | None = None,
        limit: int | None = None,
        order: Order | str = Order.ASCENDING,
        namespace: str | None = None,
        retries: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The events of ``stream`` in ``[start, end]`` (both inclusive), streamed.

        A dropped connection resumes strictly after the last id received, up to ``retries``
        times (default: the client's) with a growing pause; an error status is raised at once.
        """
        plan = self._calls.get(
            stream, start, end, start_id=start_id, limit=limit, order=order,
            namespace=namespace, retries=retries,
        )  # fmt: skip
        while True:
            try:
                with self._http.stream(plan.call()) as chunks:
                    for chunk in chunks:
                        yield from plan.feed(chunk)
                yield from plan.finish()
                return
            except RequestError as exc:
                time.sleep(plan.dropped(exc))

    def delete(
        self,
        stream: str,
        start: TimeLike,
        end: TimeLike,
        *,
        start_id: str | None = None,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """Delete ``[start, end]`` (or strictly after ``start_id``); counts per backend."""
        return self._http.send(self._calls.delete(stream, start, end, start_id, namespace))

    def streams(self, *, namespace: str | None = None) -> list[str]:
        """The streams of the namespace."""
        return self._http.send(self._calls.streams(namespace))

    def infer_schema(self, stream: str, *, namespace: str | None = None) -> dict[str, Any]:
        """The server's answer with the JSON Schema inferred from the latest events."""
        return self._http.send(self._calls.infer_schema(stream, namespace))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
