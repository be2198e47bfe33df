"""Who applies a rule on a shard: one server at a time, through consumer-group leases.

Each rule is a consumer group, ``rollup.<rule name>``, on every stream it follows, and takes
the shards by the leases every consumer group uses (:mod:`aion.streams.groups`): a fair share
per live server, compare-and-set renewals, claims on a busier server's shards, expiry on the
store's clock when a server stops renewing. A round is one
:func:`~aion.streams.groups.membership.heartbeat`; a shard this server must hand over (above
its fair share, or claimed by another server) stops being applied first, its batch finished
and checkpointed, and only then is its lease released, so a shard never has two appliers.

The rule's checkpoint (kept with its timeseries, moved by compare-and-set with each batch)
still decides what is applied, so even a server that lost a lease without knowing it cannot
count a batch twice; the leases make sure the work is done once instead of raced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aion.streams.groups.membership import heartbeat, leave, release
from aion.streams.protocol import StreamLog

__all__ = ["GROUP_PREFIX", "ShardOwnership", "group_name"]

GROUP_PREFIX = "rollup."
_MAX_GROUP = 200


def group_name(rule_name: str) -> str:
    """The consumer group of a rule: ``rollup.<name>``; a long name ends in a digest."""
    name = f"{GROUP_PREFIX}{rule_name}"
    if len(name) <= _MAX_GROUP:
        return name
    return f"{name[: _MAX_GROUP - 41]}#{hashlib.sha256(name.encode()).hexdigest()[:40]}"


@dataclass(slots=True)
class ShardOwnership:
    """The leases of one rule on one stream of one source, held by ``worker``."""

    log: StreamLog
    namespace: str
    stream: str
    group: str
    worker: str
    shards: int
    lease_seconds: float

    async def round(
        self, applying: frozenset[int], stop: Callable[[tuple[int, ...]], Awaitable[None]]
    ) -> tuple[int, ...]:
        """Renew, take, claim and hand over leases. ``applying`` are the shards this worker
        applies now; ``stop`` is awaited with those it no longer may (each finishes its
        batch) before any is released. Returns the shards to start applying."""
        held = await heartbeat(
            self.log, self.namespace, self.stream, self.group, self.worker,
            self.lease_seconds, shards=self.shards,
        )  # fmt: skip
        gone = tuple(sorted(s for s in applying if s not in held.leases))
        if gone:
            await stop(gone)
        for lease in held.handing_over.values():
            await release(
                self.log, self.namespace, self.stream, self.group, self.worker, lease,
                self.lease_seconds,
            )  # fmt: skip
        return tuple(sorted(s for s in held.leases if s not in applying))

    async def leave(self) -> None:
        """Give every lease back, so another server takes the shards without waiting."""
        await leave(
            self.log, self.namespace, self.stream, self.group, self.worker, self.lease_seconds
        )
