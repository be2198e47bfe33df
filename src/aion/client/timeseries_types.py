"""Value types of the timeseries client (no I/O): a rollup rule as the server lists it, and
the buckets a read answers.

Each has ``to_json()``, the server's JSON for it, which is what ``aion ts ... --json`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

__all__ = ["Datapoint", "RollupInfo", "TimeseriesPoints"]


class Datapoint(NamedTuple):
    """One bucket: its value (a number for counts, gauges and transforms, a ``{value: count}``
    dict for a histogram, a list for a series or a set) and its start in epoch milliseconds."""

    value: Any
    epoch_ms: int

    @property
    def time(self) -> datetime:
        """The bucket's start, in UTC."""
        return datetime.fromtimestamp(self.epoch_ms / 1000, UTC)


@dataclass(frozen=True, slots=True)
class TimeseriesPoints:
    """A read: the timeseries (``target``), the rule that made it, its type, the interval read
    and its buckets, oldest first (Grafana's JSON data source shape)."""

    target: str
    rule: str
    type: str
    interval: str
    datapoints: list[Datapoint]

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TimeseriesPoints:
        return cls(
            raw["target"],
            raw["rule"],
            raw["type"],
            raw["interval"],
            [Datapoint(value, int(ms)) for value, ms in raw["datapoints"]],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "rule": self.rule,
            "type": self.type,
            "interval": self.interval,
            "datapoints": [[p.value, p.epoch_ms] for p in self.datapoints],
        }


@dataclass(frozen=True, slots=True)
class RollupInfo:
    """One ``[[rollups]]`` rule of the namespace: what it reads (``stream``, a prefix when
    ``prefix``), what it makes (``timeseries``, a name template, of ``type`` over
    ``intervals``), its counters since the server started (``stats``: events, skipped,
    batches, conflicts, last_error), whether its backend answers (``available``; ``error``
    says why not) and the names of the timeseries it has written."""

    rule: str
    namespace: str
    stream: str
    prefix: bool
    timeseries: str
    type: str
    value: str | None
    intervals: dict[str, dict[str, Any]]
    backend: str
    stats: dict[str, Any]
    available: bool
    names: list[str]
    error: str | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RollupInfo:
        return cls(
            raw["rule"],
            raw["namespace"],
            raw["stream"],
            bool(raw["prefix"]),
            raw["timeseries"],
            raw["type"],
            raw.get("value"),
            dict(raw.get("intervals", {})),
            raw.get("backend", ""),
            dict(raw.get("stats", {})),
            bool(raw.get("available")),
            list(raw.get("names", [])),
            raw.get("error"),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "namespace": self.namespace,
            "stream": self.stream,
            "prefix": self.prefix,
            "timeseries": self.timeseries,
            "type": self.type,
            "value": self.value,
            "intervals": self.intervals,
            "backend": self.backend,
            "stats": self.stats,
            "available": self.available,
            "names": self.names,
        }
        if self.error is not None:
            out["error"] = self.error
        return out
