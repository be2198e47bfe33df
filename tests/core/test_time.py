from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aion.core import time as kt
from aion.core.time import MAX_SECONDS, TICKS_PER_SECOND, parse_time
from aion.errors import InvalidTimeValue


def test_epoch_is_zero() -> None:
    assert kt.datetime_to_kronos_time(kt.EPOCH) == 0
    assert kt.datetime_to_kronos_time(datetime(1970, 1, 1)) == 0  # naive is UTC


def test_seconds_convert_through_their_decimal_form() -> None:
    assert kt.epoch_time_to_kronos_time(1.1) == 11_000_000
    assert kt.epoch_time_to_kronos_time(0.3) == 3_000_000
    assert kt.epoch_time_to_kronos_time(1_700_000_000.123) == 17_000_000_001_230_000
    assert kt.epoch_time_to_kronos_time(5) == 50_000_000


def test_milliseconds_and_back() -> None:
    assert kt.milliseconds_to_kronos_time(1500) == 15_000_000
    assert kt.kronos_time_to_milliseconds(15_009_999) == 1500


def test_aware_datetime_in_another_zone() -> None:
    dt = datetime(2024, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert kt.datetime_to_kronos_time(dt) == kt.datetime_to_kronos_time(datetime(2024, 1, 1))


def test_iso_strings() -> None:
    expected = kt.datetime_to_kronos_time(datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC))
    assert kt.iso_to_kronos_time("2024-05-06T07:08:09.123456Z") == expected
    assert kt.iso_to_kronos_time("2024-05-06T07:08:09.123456+00:00") == expected
    assert kt.iso_to_kronos_time("2024-05-06T07:08:09.123456") == expected
    with pytest.raises(InvalidTimeValue):
        kt.iso_to_kronos_time("yesterday-ish")


def test_parse_time_relative_and_epoch() -> None:
    now = 1_000_000_000_000
    assert kt.parse_time("-10m", now=now) == now - 600 * kt.TICKS_PER_SECOND
    assert kt.parse_time("-2h", now=now) == now - 7200 * kt.TICKS_PER_SECOND
    assert kt.parse_time("1.5") == 15_000_000
    assert kt.parse_time("1970-01-01T00:00:01Z") == kt.TICKS_PER_SECOND
    with pytest.raises(InvalidTimeValue):
        kt.parse_time("")


def test_to_kronos_time_refuses_floats_and_bools() -> None:
    with pytest.raises(InvalidTimeValue):
        kt.to_kronos_time(1.5)
    with pytest.raises(InvalidTimeValue):
        kt.to_kronos_time(True)
    assert kt.to_kronos_time(timedelta(seconds=1)) == kt.TICKS_PER_SECOND


def test_timedelta_helper_matches_pykronos_definition() -> None:
    td = timedelta(days=3, seconds=7, microseconds=11)
    assert kt.timedelta_to_kronos_time(td) == kt.datetime_to_kronos_time(kt.EPOCH + td)


def test_kronos_time_now_is_close_to_wall_clock() -> None:
    now = kt.kronos_time_now()
    wall = kt.datetime_to_kronos_time(datetime.now(tz=UTC))
    assert abs(now - wall) < 5 * kt.TICKS_PER_SECOND


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
def test_datetime_round_trip_to_the_microsecond(dt: datetime) -> None:
    t = kt.datetime_to_kronos_time(dt)
    assert kt.kronos_time_to_datetime(t) == dt.replace(tzinfo=UTC)


@given(st.integers(min_value=-(10**17), max_value=10**17))
def test_epoch_seconds_round_trip(t: int) -> None:
    seconds = Decimal(t) / kt.TICKS_PER_SECOND
    assert kt.epoch_time_to_kronos_time(seconds) == t


@pytest.mark.parametrize(
    "text", ["1e1000000", "1e999990", "-1e13", "922337203686", "-99999999999999d", "+9" * 40]
)
def test_parse_time_refuses_times_past_64_bit_ticks_at_once(text: str) -> None:
    with pytest.raises(InvalidTimeValue, match=r"out of range|at most"):
        parse_time(text)


def test_parse_time_takes_the_edges_of_the_range() -> None:
    assert parse_time(str(MAX_SECONDS)) == MAX_SECONDS * TICKS_PER_SECOND
    assert parse_time(f"-{MAX_SECONDS}") == -MAX_SECONDS * TICKS_PER_SECOND
