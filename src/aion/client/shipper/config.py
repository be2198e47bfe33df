"""The shipper's settings: one frozen dataclass, validated once, and the named policies.

Every knob has a default that suits a long-running process sending small JSON events; the
compat clients (ISStreamer, Samsara) translate their own configuration keys into this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from aion.errors import ConfigurationError

__all__ = [
    "BATCH_ID_HEADER",
    "Compression",
    "FlushSchedule",
    "OverflowPolicy",
    "RetryPolicy",
    "ShipperConfig",
]

#: The request header that carries a batch's id, the same on every attempt, so a server can
#: drop a batch it has already stored.
BATCH_ID_HEADER = "X-Aion-Batch-Id"


class OverflowPolicy(StrEnum):
    """What ``put`` does when the buffer is full (by count or by bytes)."""

    #: Drop the oldest queued event that is not being sent, and keep the new one.
    DROP_OLDEST = "drop_oldest"
    #: Refuse the new event (``put`` returns False).
    DROP_NEWEST = "drop_newest"
    #: Wait up to ``block_timeout`` seconds for room, then refuse the new event.
    BLOCK = "block"


class FlushSchedule(StrEnum):
    """When ``flush_interval`` sends a partial batch."""

    #: When the oldest queued event has waited ``flush_interval`` seconds.
    AGE = "age"
    #: At every ``flush_interval`` tick since the first event: PyKronos's sender, which sent
    #: everything queued every ``sleep_block`` seconds (an event waits at most one interval).
    TICK = "tick"


class Compression(StrEnum):
    """How a batch body is encoded on the wire."""

    GZIP = "gzip"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by attempts and by total time.

    The delay before attempt ``n + 1`` is uniform in ``[0, min(cap, base * 2**n)]``; a server's
    ``Retry-After`` is a floor on that delay (clamped to ``max_retry_after``).
    """

    max_attempts: int = 8
    base: float = 0.5
    cap: float = 30.0
    max_elapsed: float = 300.0
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")
        if self.base < 0 or self.cap < 0 or self.max_elapsed < 0 or self.max_retry_after < 0:
            raise ConfigurationError("retry delays must not be negative")


@dataclass(frozen=True, slots=True)
class ShipperConfig:
    """Everything the shipper needs to know, checked when it is built.

    ``url`` is where a batch is POSTed unless a route target says otherwise. The buffer holds
    at most ``max_events`` events and ``max_bytes`` bytes of encoded JSON; a batch holds at
    most ``max_batch_events`` and ``max_batch_bytes``. A batch leaves when it is full, or when
    its oldest event has waited ``flush_interval`` seconds and at least ``min_batch`` events are
    queued (``flush_schedule="tick"``: at every ``flush_interval`` tick instead, as PyKronos's
    sender did). ``spool_dir`` (None turns spooling off) keeps what could not be sent, as JSON
    lines (and, when the buffer is full, its oldest events instead of dropping them), and it is
    replayed on the next start; the spool file grows to at most ``spool_max_bytes``
    (None: no cap), and batches that do not fit are counted lost and logged. ``api_key`` is
    sent as ``Authorization: Bearer <key>`` with every batch, to whatever target a route
    resolves to (a server with keys refuses a batch without one: 401, logged, not retried).
    """

    url: str
    max_events: int = 10_000
    max_bytes: int = 32 * 1024 * 1024
    overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST
    block_timeout: float = 1.0
    max_batch_events: int = 500
    max_batch_bytes: int = 1024 * 1024
    min_batch: int = 1
    flush_interval: float = 1.0
    flush_schedule: FlushSchedule = FlushSchedule.AGE
    send_timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    compression: Compression = Compression.GZIP
    gzip_min_bytes: int = 1024
    exit_timeout: float = 2.0
    spool_dir: Path | str | None = None
    spool_name: str = "aion-shipper"
    spool_max_bytes: int | None = 1024 * 1024 * 1024
    max_event_bytes: int = 900 * 1024
    name: str = "aion"
    api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigurationError(f"url must start with http:// or https://, not {self.url!r}")
        positives = {
            "max_events": self.max_events,
            "max_bytes": self.max_bytes,
            "max_batch_events": self.max_batch_events,
            "max_batch_bytes": self.max_batch_bytes,
            "max_event_bytes": self.max_event_bytes,
            "spool_max_bytes": 1 if self.spool_max_bytes is None else self.spool_max_bytes,
        }
        for key, value in positives.items():
            if value < 1:
                raise ConfigurationError(f"{key} must be at least 1, not {value}")
        if self.min_batch < 1 or self.min_batch > self.max_batch_events:
            raise ConfigurationError(
                f"min_batch must be between 1 and max_batch_events ({self.max_batch_events})"
            )
        for key, seconds in {
            "flush_interval": self.flush_interval,
            "send_timeout": self.send_timeout,
            "block_timeout": self.block_timeout,
            "exit_timeout": self.exit_timeout,
        }.items():
            if seconds < 0:
                raise ConfigurationError(f"{key} must not be negative, not {seconds}")
        if self.send_timeout == 0:
            raise ConfigurationError("send_timeout must be positive")
        try:
            # Accept the plain strings too, so settings can come from a file.
            object.__setattr__(self, "overflow", OverflowPolicy(self.overflow))
            object.__setattr__(self, "flush_schedule", FlushSchedule(self.flush_schedule))
            object.__setattr__(self, "compression", Compression(self.compression))
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from exc
        if self.spool_dir is not None:
            object.__setattr__(self, "spool_dir", Path(self.spool_dir))
