from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aion.core import ids
from aion.errors import InvalidEventTime

times = st.integers(min_value=ids.MIN_KRONOS_TIME, max_value=ids.MAX_KRONOS_TIME)


def total_order(u: uuid.UUID) -> tuple[int, bytes]:
    return (u.time, u.bytes)


@given(times)
def test_version_one_and_time_round_trip(t: int) -> None:
    u = ids.uuid_from_kronos_time(t)
    assert u.version == 1
    assert u.variant == uuid.RFC_4122
    assert ids.kronos_time_from_uuid(u) == t


@given(times)
def test_lowest_and_highest_bracket_every_random_id(t: int) -> None:
    lo = ids.uuid_from_kronos_time(t, ids.UUIDType.LOWEST)
    hi = ids.uuid_from_kronos_time(t, ids.UUIDType.HIGHEST)
    for _ in range(5):
        r = ids.uuid_from_kronos_time(t)
        assert total_order(lo) <= total_order(r) <= total_order(hi)
    assert ids.sort_key(lo) == ids.sort_key_for_time(t, ids.UUIDType.LOWEST)
    assert ids.sort_key(hi) == ids.sort_key_for_time(t, ids.UUIDType.HIGHEST)


@given(st.lists(times, min_size=2, max_size=30))
def test_sort_key_order_is_the_id_order_both_ways(ts: list[int]) -> None:
    uuids = [ids.uuid_from_kronos_time(t) for t in ts]
    by_order = sorted(uuids, key=total_order)
    by_key = sorted(uuids, key=ids.sort_key)
    assert by_order == by_key
    assert sorted(uuids, key=total_order, reverse=True) == sorted(
        uuids, key=ids.sort_key, reverse=True
    )


@given(times)
def test_sort_key_round_trip(t: int) -> None:
    u = ids.uuid_from_kronos_time(t)
    key = ids.sort_key(u)
    assert ids.id_from_sort_key(key) == u
    assert ids.kronos_time_from_sort_key(key) == t


def test_order_across_two_centuries_is_time_first() -> None:
    step = 10**7 * 86400 * 365
    us = [ids.uuid_from_kronos_time(i * step) for i in range(-100, 130)]
    assert [ids.kronos_time_from_uuid(u) for u in sorted(us, key=ids.sort_key)] == [
        i * step for i in range(-100, 130)
    ]


@pytest.mark.parametrize("bad", [1.5, "1", True, ids.MAX_KRONOS_TIME + 1, ids.MIN_KRONOS_TIME - 1])
def test_bad_times_are_refused(bad: object) -> None:
    with pytest.raises(InvalidEventTime):
        ids.uuid_from_kronos_time(bad)  # type: ignore[arg-type]


def test_key_range_inclusive_times_and_exclusive_start_id() -> None:
    u = ids.uuid_from_kronos_time(5)
    key = ids.sort_key(u)
    low, high = ids.key_range(5, 5) or (b"", b"")
    assert low <= key <= high
    after = ids.key_range(0, 5, start_key=key)
    assert after is not None
    assert after[0] > key
    assert ids.key_range(6, 5) is None
    assert ids.key_range(-(10**30), 10**30) is not None
    assert ids.key_range(10**30, 10**31) is None
