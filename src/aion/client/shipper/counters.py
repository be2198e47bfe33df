"""The shipper's self-metrics: counts of events by what happened to them.

All counts are events, not requests, so they add up. An offered event is either ``queued`` or
``dropped`` at once (a full buffer under drop_newest/block, or an oversized event). A queued
event ends as ``sent``, ``dropped`` (pushed out by drop_oldest), ``rejected`` (a final 4xx from
the server) or ``spilled`` (written to the spool), or is still held (``depth``). ``retried``
counts events scheduled for another attempt, once per retry; ``replayed`` counts spooled events
sent again (they are included in ``sent`` too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

__all__ = ["CounterLog", "Counters"]


@dataclass(frozen=True, slots=True)
class Counters:
    """A snapshot of the counters; ``depth`` is the number of events held right now."""

    queued: int = 0
    sent: int = 0
    retried: int = 0
    dropped: int = 0
    rejected: int = 0
    spilled: int = 0
    replayed: int = 0
    depth: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict, for logs and metrics exporters."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class CounterLog:
    """Logs the counters when they move, louder when events were lost or delayed."""

    def __init__(self, logger: logging.Logger, name: str) -> None:
        self._logger = logger
        self._name = name
        self._last = Counters()

    def reset(self) -> None:
        """Forget the last logged snapshot (after a fork the child starts from zero)."""
        self._last = Counters()

    def observe(self, now: Counters) -> None:
        """Log ``now`` if it differs from the last snapshot logged (depth alone does not count)."""
        last = self._last
        moved = (
            now.queued != last.queued
            or now.sent != last.sent
            or now.retried != last.retried
            or now.dropped != last.dropped
            or now.rejected != last.rejected
            or now.spilled != last.spilled
            or now.replayed != last.replayed
        )
        if not moved:
            return
        self._last = now
        if now.dropped != last.dropped or now.rejected != last.rejected:
            level = logging.WARNING
        elif now.spilled != last.spilled or now.retried != last.retried:
            level = logging.INFO
        else:
            level = logging.DEBUG
        if self._logger.isEnabledFor(level):
            self._logger.log(
                level,
                "shipper %s: queued=%d sent=%d retried=%d dropped=%d rejected=%d spilled=%d "
                "replayed=%d depth=%d",
                self._name,
                now.queued,
                now.sent,
                now.retried,
                now.dropped,
                now.rejected,
                now.spilled,
                now.replayed,
                now.depth,
            )
