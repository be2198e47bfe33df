"""The requests of the timeseries API (``/v1/timeseries``), without I/O.

:class:`TimeseriesCalls` builds each read as a :class:`~aion.client.http.Call`: every one takes
``namespace`` (None: the settings', else the server's default), because rollup rules and
their timeseries belong to the namespace their rule reads. Times go to the server as text: a
string as given (ISO-8601, epoch seconds, ``now``, ``-1h``), anything else of
:data:`~aion.core.time.TimeLike` as exact epoch seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from aion.client.http import Call, HttpSettings
from aion.client.timeseries_types import RollupInfo, TimeseriesPoints
from aion.core.time import TICKS_PER_SECOND, TimeLike, to_kronos_time

__all__ = ["TimeseriesCalls", "Transform", "time_param"]

Transform = str | Sequence[str]
"""``mean``, ``count``, ``min``, ``max``, ``sum`` or ``rate``; several (a sequence, or one
comma-separated string) make each value a ``{transform: result}`` dict."""


def time_param(value: TimeLike | None) -> str | None:
    """A time as the server reads it: strings unchanged, anything else as epoch seconds."""
    if value is None or isinstance(value, str):
        return value
    seconds = Decimal(to_kronos_time(value)) / TICKS_PER_SECOND  # exact: ticks have 19 digits
    return format(seconds.normalize(), "f")


def _transform(value: Transform | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return ",".join(value)


def _path(name: str) -> str:
    # The server decodes the path before routing, so every reserved character is escaped.
    return "/v1/timeseries/" + quote(name, safe="")


def _rollups(raw: dict[str, Any]) -> list[RollupInfo]:
    return [RollupInfo.from_json(rule) for rule in raw["rollups"]]


class TimeseriesCalls:
    """The reads of the timeseries API."""

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings

    def _params(self, namespace: str | None, **values: Any) -> dict[str, str]:
        ns = namespace if namespace is not None else self.settings.namespace
        params = {"namespace": ns, **values}
        out = {}
        for key, value in params.items():
            if value is None or value is False:
                continue
            out[key] = "true" if value is True else str(value)
        return out

    def list(self, namespace: str | None) -> Call[list[RollupInfo]]:
        return Call("GET", "/v1/timeseries", _rollups, params=self._params(namespace))

    def get(
        self,
        name: str,
        at: TimeLike | None,
        *,
        interval: str | None,
        transform: Transform | None,
        condense: bool,
        rule: str | None,
        namespace: str | None,
    ) -> Call[TimeseriesPoints]:
        params = self._params(
            namespace, timestamp=time_param(at), interval=interval,
            transform=_transform(transform), condense=condense, rule=rule,
        )  # fmt: skip
        return Call("GET", _path(name), TimeseriesPoints.from_json, params=params)

    def series(
        self,
        name: str,
        *,
        start: TimeLike | None,
        end: TimeLike | None,
        steps: int | None,
        interval: str | None,
        transform: Transform | None,
        condense: bool,
        collapse: bool,
        rule: str | None,
        namespace: str | None,
    ) -> Call[TimeseriesPoints]:
        params = self._params(
            namespace, start=time_param(start), end=time_param(end), steps=steps,
            interval=interval, transform=_transform(transform), condense=condense,
            collapse=collapse, rule=rule,
        )  # fmt: skip
        return Call("GET", _path(name) + "/series", TimeseriesPoints.from_json, params=params)
