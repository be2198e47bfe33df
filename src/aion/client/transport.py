"""The only I/O of the clients: :class:`SyncTransport` and :class:`AsyncTransport` send a
:class:`~aion.client.http.Call` over httpx and hand its answer to
:func:`~aion.client.http.answer`.

They differ only in ``await``. A network error or timeout becomes
:class:`~aion.errors.RequestError` here, at the boundary, so no httpx exception reaches a user.
Pass ``transport`` (an ``httpx.MockTransport``, say) to test a client without a server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import httpx

from aion.client.http import Call, HttpSettings, answer
from aion.errors import RequestError

__all__ = ["AsyncTransport", "SyncTransport"]

T = TypeVar("T")


def _request(settings: HttpSettings, call: Call[Any]) -> dict[str, Any]:
    """The keyword arguments of ``httpx`` for ``call``."""
    request: dict[str, Any] = {"method": call.method, "url": settings.endpoint(call.path)}
    if call.params:
        request["params"] = dict(call.params)
    if call.body is not None:
        request["json"] = call.body
    if call.timeout is not None:
        request["timeout"] = call.timeout
    return request


def _unreachable(settings: HttpSettings, exc: httpx.HTTPError) -> RequestError:
    return RequestError(f"cannot reach {settings.url}: {exc}")


class SyncTransport:
    """Sends calls with a blocking ``httpx.Client`` (one connection pool per client)."""

    def __init__(
        self, settings: HttpSettings, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._http = httpx.Client(
            headers=settings.headers(), timeout=settings.timeout, transport=transport
        )

    def send(self, call: Call[T]) -> T:
        """Send ``call`` and read its answer."""
        try:
            response = self._http.request(**_request(self.settings, call))
        except httpx.HTTPError as exc:
            raise _unreachable(self.settings, exc) from exc
        return answer(call, response.status_code, response.content)

    @contextmanager
    def stream(self, call: Call[Any]) -> Iterator[Iterator[bytes]]:
        """Send ``call`` and yield its body's chunks as they arrive; an error status raises
        before the first chunk, a dropped connection raises ``RequestError`` mid-way."""
        try:
            with self._http.stream(**_request(self.settings, call)) as response:
                if response.status_code != 200:
                    answer(call, response.status_code, response.read())
                yield self._chunks(response)
        except httpx.HTTPError as exc:
            raise _unreachable(self.settings, exc) from exc

    def _chunks(self, response: httpx.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_bytes()
        except httpx.HTTPError as exc:
            raise RequestError(f"the connection to {self.settings.url} broke: {exc}") from exc

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


class AsyncTransport:
    """Sends calls with an ``httpx.AsyncClient``; the twin of :class:`SyncTransport`."""

    def __init__(
        self, settings: HttpSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._http = httpx.AsyncClient(
            headers=settings.headers(), timeout=settings.timeout, transport=transport
        )

    async def send(self, call: Call[T]) -> T:
        """Send ``call`` and read its answer."""
        try:
            response = await self._http.request(**_request(self.settings, call))
        except httpx.HTTPError as exc:
            raise _unreachable(self.settings, exc) from exc
        return answer(call, response.status_code, response.content)

    @asynccontextmanager
    async def stream(self, call: Call[Any]) -> AsyncIterator[AsyncIterator[bytes]]:
        """Send ``call`` and yield its body's chunks as they arrive (see ``SyncTransport``)."""
        try:
            async with self._http.stream(**_request(self.settings, call)) as response:
                if response.status_code != 200:
                    answer(call, response.status_code, await response.aread())
                yield self._chunks(response)
        except httpx.HTTPError as exc:
            raise _unreachable(self.settings, exc) from exc

    async def _chunks(self, response: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        except httpx.HTTPError as exc:
            raise RequestError(f"the connection to {self.settings.url} broke: {exc}") from exc

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()
