"""The asyncio client of the timeseries API: :class:`AsyncTimeseriesClient`, method for method
the twin of :class:`~aion.client.timeseries_sync.TimeseriesClient`."""

from __future__ import annotations

from types import TracebackType

import httpx

from aion.client.http import DEFAULT_TIMEOUT, DEFAULT_URL, HttpSettings
from aion.client.timeseries_calls import TimeseriesCalls, Transform
from aion.client.timeseries_types import RollupInfo, TimeseriesPoints
from aion.client.transport import AsyncTransport
from aion.core.time import TimeLike

__all__ = ["AsyncTimeseriesClient"]


class AsyncTimeseriesClient:
    """Asyncio twin of :class:`~aion.client.timeseries_sync.TimeseriesClient`."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        namespace: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = HttpSettings(url, namespace, timeout, api_key)
        self._calls = TimeseriesCalls(self.settings)
        self._http = AsyncTransport(self.settings, transport)

    async def list(self, *, namespace: str | None = None) -> list[RollupInfo]:
        """The namespace's rollup rules, their counters and the timeseries they made."""
        return await self._http.send(self._calls.list(namespace))

    async def get(
        self,
        name: str,
        at: TimeLike | None = None,
        *,
        interval: str | None = None,
        transform: Transform | None = None,
        condense: bool = False,
        rule: str | None = None,
        namespace: str | None = None,
    ) -> TimeseriesPoints:
        """The bucket holding ``at`` (see ``TimeseriesClient.get``)."""
        call = self._calls.get(
            name, at, interval=interval, transform=transform, condense=condense, rule=rule,
            namespace=namespace,
        )  # fmt: skip
        return await self._http.send(call)

    async def series(
        self,
        name: str,
        *,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        steps: int | None = None,
        interval: str | None = None,
        transform: Transform | None = None,
        condense: bool = False,
        collapse: bool = False,
        rule: str | None = None,
        namespace: str | None = None,
    ) -> TimeseriesPoints:
        """A range of buckets (see ``TimeseriesClient.series``)."""
        call = self._calls.series(
            name, start=start, end=end, steps=steps, interval=interval, transform=transform,
            condense=condense, collapse=collapse, rule=rule, namespace=namespace,
        )  # fmt: skip
        return await self._http.send(call)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncTimeseriesClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
