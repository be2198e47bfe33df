"""Which shards a consumer-group worker should take, keep, give up or steal: pure decisions
over the group's leases, unit-tested without I/O.

Fair share: with W live workers (owners of unexpired leases, plus the deciding worker) and S
shards, nobody holds more than ``ceil(S / W)``. A worker takes free shards (never leased,
released, or expired) up to that share; gives up shards above it (so a joining worker finds
free ones); and, when it still holds fewer than ``floor(S / W)`` and nothing is free, steals
one shard per round from the worker holding the most, as the KCL does.
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
    """What one worker does this round: ``renew`` the shards it holds and keeps, ``release``
    the ones above its share, ``acquire`` free ones, ``steal`` (shard numbers)."""

    renew: tuple[int, ...]
    release: tuple[int, ...]
    acquire: tuple[int, ...]
    steal: tuple[int, ...]


def fair_share(shards: int, workers: int) -> int:
    """The most shards one worker may hold: ``ceil(shards / workers)``."""
    return math.ceil(shards / max(1, workers))


def plan(leases: Mapping[int, Lease], shards: int, me: str, now: int) -> Plan:
    """The decision of worker ``me`` at kronos time ``now`` given the group's leases."""
    live = {s: ls for s, ls in leases.items() if ls.owner is not None and ls.expires_at > now}
    held = Counter(ls.owner for ls in live.values())
    workers = len(set(held) | {me})
    share = fair_share(shards, workers)
    floor = shards // workers
    mine = sorted(s for s, ls in live.items() if ls.owner == me)
    keep, release = mine[:share], mine[share:]
    free = [s for s in range(shards) if s not in live]
    # Start at a worker-specific offset so workers starting together try different shards.
    offset = sum(me.encode()) % len(free) if free else 0
    free = free[offset:] + free[:offset]
    acquire = free[: max(0, share - len(keep))]
    steal: list[int] = []
    if len(keep) + len(acquire) < floor:
        others = [(n, owner) for owner, n in held.items() if owner != me and owner is not None]
        if others:
            most, victim = max(others)
            if most > len(keep) + len(acquire) + 1:
                steal = [max(s for s, ls in live.items() if ls.owner == victim)]
    return Plan(tuple(keep), tuple(release), tuple(acquire), tuple(steal))
