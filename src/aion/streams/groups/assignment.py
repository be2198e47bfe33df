"""Which shards a consumer-group worker should take, keep, hand over or ask for: pure decisions
over the group's leases, unit-tested without I/O.

Fair share: with W live workers (owners of unexpired leases and workers waiting for a shard,
plus the deciding worker) and S shards, nobody holds more than ``ceil(S / W)``. A worker takes
free shards (never leased, released, or expired) and the ones reserved for it, up to that
share; hands over shards above it, and shards another worker claimed; and, when it still holds
fewer than ``floor(S / W)`` and nothing is free, claims one shard from the worker holding the
most. A claim does not take the shard: its owner finishes its batch, checkpoints and releases
it (reserved for the claimant) at its next heartbeat, so no two workers read a shard at once.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from aion.streams.protocol import Lease

__all__ = ["Plan", "fair_share", "plan"]


@dataclass(frozen=True, slots=True)
class Plan:
    """What one worker does this round: ``renew`` the shards it holds and keeps,
    ``hand_over`` the ones above its share or claimed by another worker, ``acquire`` free
    ones (or reserved for it), ``claim`` one from the busiest worker (shard numbers)."""

    renew: tuple[int, ...]
    hand_over: tuple[int, ...]
    acquire: tuple[int, ...]
    claim: tuple[int, ...]


def fair_share(shards: int, workers: int) -> int:
    """The most shards one worker may hold: ``ceil(shards / workers)``."""
    return math.ceil(shards / max(1, workers))


def plan(leases: Mapping[int, Lease], shards: int, me: str, now: int) -> Plan:
    """The decision of worker ``me`` at the store's kronos time ``now`` given the leases."""
    live = {s: ls for s, ls in leases.items() if ls.owner is not None and ls.expires_at > now}
    reserved = {
        s: ls.claimant
        for s, ls in leases.items()
        if ls.owner is None and ls.claimant is not None and ls.expires_at > now
    }
    held = Counter(ls.owner for ls in live.values())
    waiting = {ls.claimant for ls in live.values() if ls.claimant is not None}
    workers = len(set(held) | waiting | set(reserved.values()) | {me})
    share = fair_share(shards, workers)
    floor = shards // workers
    mine = sorted(s for s, ls in live.items() if ls.owner == me)
    claimed = [s for s in mine if live[s].claimant not in (None, me)]
    unclaimed = [s for s in mine if s not in claimed]
    keep, above = unclaimed[:share], unclaimed[share:]
    free = [s for s in range(shards) if s not in live and s not in reserved]
    # Start at a worker-specific offset so workers starting together try different shards.
    offset = sum(me.encode()) % len(free) if free else 0
    free = sorted(s for s, who in reserved.items() if who == me) + free[offset:] + free[:offset]
    acquire = free[: max(0, share - len(keep))]
    claim: list[int] = []
    pending = any(ls.claimant == me for ls in live.values())
    if not pending and len(keep) + len(acquire) < floor and len(acquire) == len(free):
        others = [(n, owner) for owner, n in held.items() if owner != me and owner is not None]
        if others:
            most, victim = max(others)
            candidates = [s for s, ls in live.items() if ls.owner == victim and ls.claimant is None]
            if most > len(keep) + len(acquire) + 1 and candidates:
                claim = [max(candidates)]
    return Plan(tuple(keep), tuple(sorted(claimed + above)), tuple(acquire), tuple(claim))
