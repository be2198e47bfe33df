"""One consumer-group heartbeat as a stateless step over a StreamLog, so a worker in this
process (:class:`~aion.streams.groups.consumer.GroupConsumer`) and a remote worker speaking
HTTP (the server's ``/groups/{group}/members/{worker}`` routes) share shards by the same rules.

A round reads the store's clock and the group's leases, asks the pure
:func:`~aion.streams.groups.assignment.plan` what worker ``worker`` should do, and applies it
with compare-and-set ``set_lease``: renew the shards it keeps, take free ones, claim one from
the busiest worker when it has too few. Shards to hand over (above its fair share, or claimed
by another worker) come back in :attr:`Membership.handing_over`; the caller stops reading
them, checkpoints what it finished, and then gives them back with :func:`release`. What a
worker holds afterwards is exactly the CAS writes it won, so two workers racing for a shard
cannot both believe they own it.

Expiry is the store's business: the store stamps every lease with its own clock and says what
time it is (``lease_time``), so a server whose clock is off cannot take a live lease or write
one that is already over. No caller-side time goes into a lease.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aion.errors import ValidationError
from aion.streams.groups.assignment import plan
from aion.streams.protocol import Lease, StreamLog
from aion.streams.rules import MAX_LEASE_SECONDS, check_lease_seconds

__all__ = [
    "MAX_LEASE_SECONDS",
    "TICKS_PER_SECOND",
    "Membership",
    "check_lease_seconds",
    "heartbeat",
    "leave",
    "release",
]

TICKS_PER_SECOND = 10_000_000


@dataclass(frozen=True, slots=True)
class Membership:
    """What a worker holds after a heartbeat: its leases by shard, the shards it must hand
    over (stop reading, checkpoint, then :func:`release`), and the store's kronos time the
    round was decided at (lease expiry is judged by that clock)."""

    worker: str
    leases: dict[int, Lease]
    now: int
    handing_over: dict[int, Lease] = field(default_factory=dict)

    @property
    def shards(self) -> list[int]:
        """The shards the worker owns now, ascending."""
        return sorted(self.leases)


def _check_worker(worker: str) -> None:
    if not isinstance(worker, str) or not 1 <= len(worker) <= 256 or "\n" in worker:
        raise ValidationError("a worker name is 1 to 256 characters, no line break", "worker")


async def heartbeat(
    log: StreamLog,
    namespace: str,
    stream: str,
    group: str,
    worker: str,
    lease_seconds: float,
    *,
    shards: int | None = None,
) -> Membership:
    """Join or renew: one planning round for ``worker``; returns what it owns afterwards and
    what it must hand over.

    ``shards`` (the stream's shard count) saves a describe when the caller knows it.
    """
    _check_worker(worker)
    check_lease_seconds(lease_seconds)
    if shards is None:
        shards = len((await log.describe_stream(namespace, stream)).shards)
    now = await log.lease_time(namespace, stream)
    leases = await log.get_leases(namespace, stream, group)
    decision = plan(leases, shards, worker, now)
    held: dict[int, Lease] = {}
    handing = {shard: leases[shard] for shard in decision.hand_over}
    for shard in decision.renew:
        won = await log.set_lease(
            namespace, stream, group, shard, worker, lease_seconds, leases[shard].version
        )
        if won is not None:
            held[shard] = won
            continue
        # Changed since read: claimed by another worker (still ours: hand it over), or lost.
        fresh = (await log.get_leases(namespace, stream, group)).get(shard)
        if fresh is not None and fresh.owner == worker:
            handing[shard] = fresh
    for shard in decision.acquire:
        current = leases.get(shard)
        won = await log.set_lease(
            namespace,
            stream,
            group,
            shard,
            worker,
            lease_seconds,
            current.version if current else 0,
        )
        if won is not None:
            held[shard] = won
    for shard in decision.claim:
        current = leases[shard]
        # Keep owner and expiry; only ask. The owner hands the shard over at its next round.
        await log.set_lease(
            namespace, stream, group, shard, current.owner, None, current.version, worker
        )
    return Membership(worker, held, now, handing)


async def release(
    log: StreamLog,
    namespace: str,
    stream: str,
    group: str,
    worker: str,
    lease: Lease,
    lease_seconds: float,
) -> bool:
    """Give ``lease`` back once its records are checkpointed: a claimed shard stays reserved
    for its claimant for ``lease_seconds``, any other becomes free. Retries on a concurrent
    claim; False when ``worker`` no longer owns it."""
    current: Lease | None = lease
    for _ in range(3):
        if current is None or current.owner != worker:
            return False
        claimant = current.claimant if current.claimant != worker else None
        done = await log.set_lease(
            namespace,
            stream,
            group,
            lease.shard,
            None,
            lease_seconds if claimant else None,
            current.version,
            claimant,
        )
        if done is not None:
            return True
        current = (await log.get_leases(namespace, stream, group)).get(lease.shard)
    return False


async def leave(
    log: StreamLog,
    namespace: str,
    stream: str,
    group: str,
    worker: str,
    lease_seconds: float = 10.0,
) -> list[int]:
    """Release every lease ``worker`` holds (so others take the shards at once, without
    waiting for expiry; a claimed one stays reserved for its claimant); returns the shards
    released. Call it once the worker's records are checkpointed."""
    _check_worker(worker)
    leases = await log.get_leases(namespace, stream, group)
    released = []
    for shard, lease in sorted(leases.items()):
        if lease.owner == worker and await release(
            log, namespace, stream, group, worker, lease, lease_seconds
        ):
            released.append(shard)
    return released
