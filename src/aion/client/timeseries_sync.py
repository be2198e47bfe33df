"""The blocking client of the timeseries API: :class:`TimeseriesClient` reads the rollups a
server keeps (``[[rollups]]`` in ``aion.toml``); the requests are built in
:mod:`aion.client.timeseries_calls`."""

from __future__ import annotations

from types import TracebackType

import httpx

from aion.client.http import DEFAULT_TIMEOUT, DEFAULT_URL, HttpSettings
from aion.client.timeseries_calls import TimeseriesCalls, Transform
from aion.client.timeseries_types import RollupInfo, TimeseriesPoints
from aion.client.transport import SyncTransport
from aion.core.time import TimeLike

__all__ = ["TimeseriesClient"]


class TimeseriesClient:
    """Reads ``/v1/timeseries``: the namespace's rollup rules, one bucket, a range of buckets.

    ``namespace`` (here or per call; None: the server's default) picks whose rules are read;
    ``api_key`` is sent as a bearer token. An unknown timeseries or rule answers a
    ``ResponseError`` with status 404, a bad parameter one with status 400 and ``field``.

    >>> with TimeseriesClient("http://127.0.0.1:8151") as ts:      # doctest: +SKIP
    ...     for point in ts.series("views.home", start="-1h", interval="minute").datapoints:
    ...         print(point.time, point.value)
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        namespace: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = HttpSettings(url, namespace, timeout, api_key)
        self._calls = TimeseriesCalls(self.settings)
        self._http = SyncTransport(self.settings, transport)

    def list(self, *, namespace: str | None = None) -> list[RollupInfo]:
        """The namespace's rollup rules, their counters and the timeseries they made."""
        return self._http.send(self._calls.list(namespace))

    def get(
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
        """The bucket of ``interval`` (default: the rule's first) holding ``at`` (default
        now): one point, or one per resolution row of a fine interval unless ``condense``."""
        call = self._calls.get(
            name, at, interval=interval, transform=transform, condense=condense, rule=rule,
            namespace=namespace,
        )  # fmt: skip
        return self._http.send(call)

    def series(
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
        """Every bucket from ``start`` to ``end``, oldest first; with one of them, ``steps``
        buckets from or up to it; with neither, ``steps`` buckets ending now. ``collapse``
        merges the range into one point."""
        call = self._calls.series(
            name, start=start, end=end, steps=steps, interval=interval, transform=transform,
            condense=condense, collapse=collapse, rule=rule, namespace=namespace,
        )  # fmt: skip
        return self._http.send(call)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> TimeseriesClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
