"""The buffered event shipper: one core, a thread-driven ``Shipper`` and an ``AsyncShipper``.

The decisions (bounded buffer, overflow policy, batch triggers, retry and backoff) live in
``buffer`` and ``retry`` with no I/O; ``sync`` and ``aio`` drive them with a thread or an
asyncio task over httpx; ``spool`` keeps what cannot be sent and replays it on the next start.
"""

from __future__ import annotations

from aion.client.shipper.aio import AsyncShipper
from aion.client.shipper.base import AttemptResult, RouteTarget
from aion.client.shipper.buffer import Batch
from aion.client.shipper.config import (
    BATCH_ID_HEADER,
    Compression,
    FlushSchedule,
    OverflowPolicy,
    RetryPolicy,
    ShipperConfig,
)
from aion.client.shipper.counters import Counters
from aion.client.shipper.retry import Verdict
from aion.client.shipper.sync import Shipper

__all__ = [
    "BATCH_ID_HEADER",
    "AsyncShipper",
    "AttemptResult",
    "Batch",
    "Compression",
    "Counters",
    "FlushSchedule",
    "OverflowPolicy",
    "RetryPolicy",
    "RouteTarget",
    "Shipper",
    "ShipperConfig",
    "Verdict",
]
