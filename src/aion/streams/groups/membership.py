"""One consumer-group heartbeat as a stateless step over a StreamLog, so a worker in this
process (:class:`~aion.streams.groups.consumer.GroupConsumer`) and a remote worker speaking
HTTP (the server's ``/groups/{group}/members/{worker}`` routes) share shards by the same rules.

A round reads the group's leases, asks the pure :func:`~aion.streams.groups.assignment.plan` what
worker ``worker`` should do at ``now``, and applies it with compare-and-set ``set_lease``:
release the shards above its fair share, renew the ones it keeps, take free or expired ones,
steal one from the busiest worker when it has too few. What it holds afterwards is exactly
the CAS writes it won, so two workers racing for a shard cannot both believe they own it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aion.core.time import kronos_time_now
from aion.errors import ValidationError
from aion.streams.groups.assignment import plan
from aion.streams.protocol import Lease, StreamLog

__all__ = [
    "MAX_LEASE_SECONDS",
    "TICKS_PER_SECOND",
    "Membership",
    "check_lease_seconds",
    "heartbeat",
    "leave",
]

TICKS_PER_SECOND = 10_000_000
MAX_LEASE_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Membership:
    """What a worker holds after a heartbeat: its leases by shard, and the kronos time the
    round was decided at (lease expiry is judged by that clock)."""

    worker: str
    leases: dict[int, Lease]
    now: int

    @property
    def shards(self) -> list[int]:
        """The shards the worker owns now, ascending."""
        return sorted(self.leases)


def check_lease_seconds(lease_seconds: float) -> float:
    """Refuse a lease duration outside ``(0, 3600]`` seconds."""
    if isinstance(lease_seconds, bool) or not 0 < lease_seconds <= MAX_LEASE_SECONDS:
        raise ValidationError(
            f"lease_seconds must be more than 0 and at most {MAX_LEASE_SECONDS:g}",
            "lease_seconds",
        )
    return float(lease_seconds)


def _check_worker(worker: str) -> None:
    if not isinstance(worker, str) or not 1 <= len(worker) <= 256:
        raise ValidationError("a worker name is 1 to 256 characters", "worker")


async def heartbeat(
    log: StreamLog,
    namespace: str,
    stream: str,
    group: str,
    worker: str,
    lease_seconds: float,
    *,
    shards: int | None = None,
    now: int | None = None,
) -> Membership:
    """Join or renew: one planning round for ``worker``; returns what it owns afterwards.

    ``shards`` (the stream's shard count) saves a describe when the caller knows it.
    """
    _check_worker(worker)
    check_lease_seconds(lease_seconds)
    if shards is None:
        shards = len((await log.describe_stream(namespace, stream)).shards)
    now = kronos_time_now() if now is None else now
    leases = await log.get_leases(namespace, stream, group)
    decision = plan(leases, shards, worker, now)
    expires = now + int(lease_seconds * TICKS_PER_SECOND)
    for shard in decision.release:
        await log.set_lease(namespace, stream, group, shard, None, 0, leases[shard].version)
    held: dict[int, Lease] = {}
    for shard in decision.renew + decision.acquire + decision.steal:
        current = leases.get(shard)
        won = await log.set_lease(
            namespace, stream, group, shard, worker, expires, current.version if current else 0
        )
        if won is not None:
            held[shard] = won
    return Membership(worker, held, now)


async def leave(log: StreamLog, namespace: str, stream: str, group: str, worker: str) -> list[int]:
    """Release every lease ``worker`` holds (so others take the shards at once, without
    waiting for expiry); returns the shards released."""
    _check_worker(worker)
    leases = await log.get_leases(namespace, stream, group)
    released = []
    for shard, lease in sorted(leases.items()):
        if lease.owner == worker:
            done = await log.set_lease(namespace, stream, group, shard, None, 0, lease.version)
            if done is not None:
                released.append(shard)
    return released
