"""``aion.AsyncClient``: the asyncio twin of ``aion.Client``; it only sends what
:mod:`aion.client.events_calls` builds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from aion.client.events_calls import EventCalls, Order
from aion.client.http import DEFAULT_RETRIES, DEFAULT_TIMEOUT, DEFAULT_URL, HttpSettings
from aion.client.transport import AsyncTransport
from aion.core.time import TimeLike
from aion.errors import RequestError

__all__ = ["AsyncClient"]


class AsyncClient:
    """The asyncio client; the same methods as ``Client``, awaited (``get`` is an async
    iterator)."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        namespace: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        retries: int = DEFAULT_RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = HttpSettings(url, namespace, timeout, api_key, retries)
        self._calls = EventCalls(self.settings)
        self._http = AsyncTransport(self.settings, transport)

    @property
    def url(self) -> str:
        return self.settings.url

    @property
    def namespace(self) -> str | None:
        return self.settings.namespace

    async def index(self) -> dict[str, Any]:
        """The server's identity and the health of its backends."""
        return await self._http.send(self._calls.index())

    async def put(
        self,
        events: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        namespace: str | None = None,
        require_success: bool = True,
    ) -> dict[str, Any]:
        """Insert events per stream (see ``Client.put``)."""
        return await self._http.send(self._calls.put(events, namespace, require_success))

    async def get(
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
    ) -> AsyncIterator[dict[str, Any]]:
        """The events of ``stream`` in ``[start, end]``, resuming after the last id on a drop
        (see ``Client.get``)."""
        plan = self._calls.get(
            stream, start, end, start_id=start_id, limit=limit, order=order,
            namespace=namespace, retries=retries,
        )  # fmt: skip
        while True:
            try:
                async with self._http.stream(plan.call()) as chunks:
                    async for chunk in chunks:
                        for event in plan.feed(chunk):
                            yield event
                for event in plan.finish():
                    yield event
                return
            except RequestError as exc:
                await asyncio.sleep(plan.dropped(exc))

    async def delete(
        self,
        stream: str,
        start: TimeLike,
        end: TimeLike,
        *,
        start_id: str | None = None,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """Delete ``[start, end]`` (or strictly after ``start_id``); counts per backend."""
        return await self._http.send(self._calls.delete(stream, start, end, start_id, namespace))

    async def streams(self, *, namespace: str | None = None) -> list[str]:
        """The streams of the namespace."""
        return await self._http.send(self._calls.streams(namespace))

    async def infer_schema(self, stream: str, *, namespace: str | None = None) -> dict[str, Any]:
        """The JSON Schema inferred from the latest events of ``stream``."""
        return await self._http.send(self._calls.infer_schema(stream, namespace))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
