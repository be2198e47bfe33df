"""``aion.AsyncClient``: the asyncio twin of ``aion.Client`` (httpx)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from aion.client.base import GET_RETRIES, BaseClient, LineSplitter, Order, TimeLike
from aion.errors import RequestError, ResponseError

__all__ = ["AsyncClient"]


class AsyncClient:
    """The asyncio client; the same methods as ``Client``, awaited (``get`` is an async
    iterator)."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8151",
        *,
        namespace: str | None = None,
        timeout: float | None = 30.0,
        api_key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = BaseClient(url, namespace, timeout, api_key)
        self._http = httpx.AsyncClient(
            headers=self._base.headers(), timeout=timeout, transport=transport
        )

    @property
    def url(self) -> str:
        return self._base.url

    async def _post(self, path: str, body: dict[str, Any], *, require_success: bool = True) -> Any:
        try:
            response = await self._http.post(self._base.endpoint(path), json=body)
        except httpx.HTTPError as exc:
            raise RequestError(f"cannot reach {self._base.url}: {exc}") from exc
        return self._base.check(
            response.status_code, response.content, require_success=require_success
        )

    async def index(self) -> dict[str, Any]:
        """The server's identity and the health of its backends."""
        try:
            response = await self._http.get(self._base.endpoint("/1.0/index"))
        except httpx.HTTPError as exc:
            raise RequestError(f"cannot reach {self._base.url}: {exc}") from exc
        result: dict[str, Any] = self._base.check(response.status_code, response.content)
        return result

    async def put(
        self,
        events: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        namespace: str | None = None,
        require_success: bool = True,
    ) -> dict[str, Any]:
        """Insert events per stream (see ``Client.put``)."""
        body = self._base.with_namespace({"events": self._base.prepare_events(events)}, namespace)
        result: dict[str, Any] = await self._post(
            "/1.0/events/put", body, require_success=require_success
        )
        return result

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
        retries: int = GET_RETRIES,
    ) -> AsyncIterator[dict[str, Any]]:
        """The events of ``stream`` in ``[start, end]``, resuming after the last id on a drop."""
        body = self._base.get_body(
            stream, start, end, start_id=start_id, limit=limit, order=order, namespace=namespace
        )
        received = 0
        last_id: str | None = None
        attempt = 0
        while True:
            request_body = self._base.resume_body(body, last_id, received)
            try:
                async with self._http.stream(
                    "POST", self._base.endpoint("/1.0/events/get"), json=request_body
                ) as response:
                    if response.status_code != 200:
                        self._base.check(response.status_code, await response.aread())
                    splitter = LineSplitter()
                    async for chunk in response.aiter_bytes():
                        for event in self._base.decode_lines(splitter.feed(chunk)):
                            received += 1
                            last_id = self._base.last_id(event) or last_id
                            yield event
                    for event in self._base.decode_lines(splitter.finish()):
                        received += 1
                        yield event
                return
            except ResponseError:
                raise
            except httpx.HTTPError as exc:
                attempt += 1
                if attempt > retries:
                    raise RequestError(
                        f"get {stream!r} failed after {retries} retries: {exc}"
                    ) from exc
                await asyncio.sleep(0.1 * attempt)

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
        body = self._base.get_body(
            stream, start, end, start_id=start_id, limit=None, order=Order.ASCENDING,
            namespace=namespace,
        )  # fmt: skip
        body.pop("order")
        result: dict[str, Any] = await self._post("/1.0/events/delete", body)
        return result

    async def streams(self, *, namespace: str | None = None) -> list[str]:
        """The streams of the namespace."""
        body = self._base.with_namespace({}, namespace)
        try:
            response = await self._http.post(self._base.endpoint("/1.0/streams"), json=body)
        except httpx.HTTPError as exc:
            raise RequestError(f"cannot reach {self._base.url}: {exc}") from exc
        if response.status_code != 200:
            self._base.check(response.status_code, response.content)
        splitter = LineSplitter()
        return [line.decode() for line in splitter.feed(response.content) + splitter.finish()]

    async def infer_schema(self, stream: str, *, namespace: str | None = None) -> dict[str, Any]:
        """The JSON Schema inferred from the latest events of ``stream``."""
        body = self._base.with_namespace({"stream": stream}, namespace)
        result: dict[str, Any] = await self._post("/1.0/streams/infer_schema", body)
        return result

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
