"""The pure lease decisions of consumer groups."""

from __future__ import annotations

from aion.streams.groups.assignment import fair_share, plan
from aion.streams.protocol import Lease


def held(owners: dict[int, str | None], expires: int = 100) -> dict[int, Lease]:
    return {s: Lease(s, o, expires, 1) for s, o in owners.items()}


def test_fair_share_is_ceiling() -> None:
    assert fair_share(6, 4) == 2
    assert fair_share(4, 4) == 1
    assert fair_share(3, 0) == 3


def test_lone_worker_takes_every_shard() -> None:
    decision = plan({}, 4, "a", now=0)
    assert sorted(decision.acquire) == [0, 1, 2, 3]
    assert decision.hand_over == decision.claim == decision.renew == ()


def test_expired_and_released_leases_are_free() -> None:
    leases = held({0: "dead", 1: None, 2: "b"})
    leases[0] = Lease(0, "dead", 5, 3)
    decision = plan(leases, 3, "a", now=10)
    assert sorted(decision.acquire) == [0, 1]


def test_worker_above_its_share_releases() -> None:
    leases = held({0: "a", 1: "a", 2: "a", 3: "b"})
    decision = plan(leases, 4, "a", now=0)
    assert decision.renew == (0, 1)
    assert decision.hand_over == (2,)


def test_newcomer_claims_one_from_the_busiest() -> None:
    leases = held({0: "a", 1: "a", 2: "a", 3: "a"})
    decision = plan(leases, 4, "new", now=0)
    assert decision.acquire == ()
    assert decision.claim == (3,)
    # With a claim pending it does not ask again.
    leases[3] = Lease(3, "a", 100, 2, "new")
    assert plan(leases, 4, "new", now=0).claim == ()


def test_claimed_shard_is_handed_over_and_reserved() -> None:
    leases = held({0: "a", 1: "a", 2: "a", 3: "a"})
    leases[3] = Lease(3, "a", 100, 2, "new")
    owner = plan(leases, 4, "a", now=0)
    # The claimant counts as a worker: a keeps its share of 2, hands over the claimed shard
    # and the one above its share.
    assert owner.renew == (0, 1)
    assert owner.hand_over == (2, 3)
    leases[2] = Lease(2, None, 0, 2)
    leases[3] = Lease(3, None, 100, 3, "new")  # released, reserved for the claimant
    other = plan(leases, 4, "b", now=0)
    assert 3 not in other.acquire and 2 in other.acquire
    assert plan(leases, 4, "new", now=0).acquire[0] == 3
    # A reservation runs out like a lease.
    assert 3 in plan(leases, 4, "b", now=200).acquire


def test_balanced_group_is_left_alone() -> None:
    leases = held({0: "a", 1: "a", 2: "b", 3: "b"})
    for me in ("a", "b"):
        decision = plan(leases, 4, me, now=0)
        assert decision.hand_over == decision.acquire == decision.claim == ()
        assert len(decision.renew) == 2


def test_no_worker_exceeds_the_share_after_rounds() -> None:
    leases: dict[int, Lease] = {}
    workers = ["w1", "w2", "w3"]
    for _ in range(6):
        for me in workers:
            decision = plan(leases, 7, me, now=0)
            for s in decision.hand_over:
                was = leases[s]
                leases[s] = Lease(
                    s, None, 100 if was.claimant else 0, was.version + 1, was.claimant
                )
            for s in decision.acquire:
                old = leases.get(s)
                leases[s] = Lease(s, me, 100, (old.version if old else 0) + 1)
            for s in decision.claim:
                was = leases[s]
                leases[s] = Lease(s, was.owner, was.expires_at, was.version + 1, me)
    counts = [sum(1 for x in leases.values() if x.owner == w) for w in workers]
    assert sum(counts) == 7
    assert max(counts) <= fair_share(7, 3)
    assert min(counts) >= 7 // 3
