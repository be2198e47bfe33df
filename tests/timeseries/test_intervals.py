"""Pure interval logic: time specs, relative and gregorian buckets, TTL rules, ranges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aion.errors import ValidationError
from aion.timeseries.intervals import (
    Gregorian,
    GregorianTime,
    RelativeTime,
    parse_intervals,
    parse_time_spec,
)


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("spec", "seconds"),
    [
        (60, 60),
        ("60", 60),
        ("2h", 7200),
        ("30d", 30 * 86400),
        ("1w", 604800),
        ("1m", 30 * 86400),  # as in Kairos, m is a 30-day month, not a minute
        ("2y", 2 * 365 * 86400),
        ("daily", Gregorian.DAILY),
        ("yearly", Gregorian.YEARLY),
    ],
)
def test_time_specs(spec: object, seconds: object) -> None:
    assert parse_time_spec(spec) == seconds


@pytest.mark.parametrize(
    "spec", ["5min", "1s", "h", "-5", "0", 0, -60, 1.5, None, True, "fortnightly"]
)
def test_bad_time_specs(spec: object) -> None:
    with pytest.raises(ValidationError, match="step"):
        parse_time_spec(spec)


def test_interval_config_errors() -> None:
    with pytest.raises(ValidationError, match="'step' is required"):
        parse_intervals({"minute": {"steps": 3}})
    with pytest.raises(ValidationError, match="unknown settings"):
        parse_intervals({"minute": {"step": 60, "stepz": 3}})
    with pytest.raises(ValidationError, match="coarser"):
        parse_intervals({"minute": {"step": 60, "resolution": 3600}})
    with pytest.raises(ValidationError, match="steps"):
        parse_intervals({"minute": {"step": 60, "steps": 0}})
    with pytest.raises(ValidationError):
        parse_intervals({})


def test_coarse_and_fine() -> None:
    parsed = parse_intervals(
        {
            "minute": {"step": 60},
            "hour": {"step": "1h", "resolution": 60},
            "day": {"step": "daily", "resolution": "1h"},
        }
    )
    assert parsed["minute"].coarse
    assert not parsed["hour"].coarse
    assert not parsed["day"].coarse


@given(
    st.integers(min_value=-(10**10), max_value=10**10), st.integers(min_value=1, max_value=10**6)
)
def test_relative_bucket_contains_timestamp(ts: int, step: int) -> None:
    cal = RelativeTime(step)
    bucket = cal.to_bucket(ts)
    assert cal.start(bucket) <= ts < cal.start(bucket) + cal.duration(bucket)
    assert cal.to_bucket(float(ts)) == bucket


def test_relative_bucket_is_int_ts_over_step() -> None:
    assert RelativeTime(60).to_bucket(1_800_000_059.9) == 30_000_000
    assert RelativeTime(60).start(30_000_000) == 1_800_000_000


@pytest.mark.parametrize(
    ("unit", "moment", "bucket", "start"),
    [
        (Gregorian.DAILY, utc(2024, 2, 29, 23, 59), 20240229, utc(2024, 2, 29)),
        (Gregorian.MONTHLY, utc(2024, 2, 29, 12), 202402, utc(2024, 2, 1)),
        (Gregorian.YEARLY, utc(2024, 7, 1), 2024, utc(2024, 1, 1)),
        # %U: weeks start on Sunday; days before the year's first Sunday are week 00.
        (Gregorian.WEEKLY, utc(1970, 1, 1), 197000, utc(1970, 1, 1)),
        (Gregorian.WEEKLY, utc(1970, 1, 4, 5), 197001, utc(1970, 1, 4)),
        (Gregorian.WEEKLY, utc(2024, 1, 1), 202400, utc(2024, 1, 1)),
        (Gregorian.WEEKLY, utc(2024, 1, 9), 202401, utc(2024, 1, 7)),
    ],
)
def test_gregorian_buckets(unit: Gregorian, moment: int, bucket: int, start: int) -> None:
    cal = GregorianTime(unit)
    assert cal.to_bucket(moment) == bucket
    assert cal.start(bucket) == start


def test_gregorian_durations_are_whole_days() -> None:
    assert GregorianTime(Gregorian.MONTHLY).duration(202402) == 29 * 86400
    assert GregorianTime(Gregorian.YEARLY).duration(2023) == 365 * 86400
    assert GregorianTime(Gregorian.WEEKLY).duration(202401) == 7 * 86400
    assert GregorianTime(Gregorian.WEEKLY).duration(202400) == 6 * 86400  # Mon 1 to Sat 6 Jan


def test_gregorian_shift() -> None:
    assert GregorianTime(Gregorian.MONTHLY).shift(202411, 3) == 202502
    assert GregorianTime(Gregorian.MONTHLY).shift(202402, -2) == 202312
    assert GregorianTime(Gregorian.DAILY).shift(20240228, 2) == 20240301
    assert GregorianTime(Gregorian.WEEKLY).shift(202353, 1) == 202400  # Sun 31 Dec 2023
    assert GregorianTime(Gregorian.WEEKLY).shift(202400, -1) == 202353
    assert GregorianTime(Gregorian.YEARLY).shift(2024, -3) == 2021


@given(
    st.sampled_from(list(Gregorian)),
    st.integers(min_value=0, max_value=4_000_000_000),
    st.integers(min_value=-30, max_value=30),
)
def test_gregorian_consistency(unit: Gregorian, ts: int, steps: int) -> None:
    cal = GregorianTime(unit)
    bucket = cal.to_bucket(ts)
    assert cal.start(bucket) <= ts < cal.start(bucket) + cal.duration(bucket)
    assert cal.duration(bucket) % 86400 == 0
    assert cal.to_bucket(cal.start(bucket)) == bucket
    shifted = cal.shift(bucket, steps)
    assert cal.shift(shifted, -steps) == bucket
    assert (shifted > bucket) == (steps > 0) or steps == 0
    assert len(cal.range(min(bucket, shifted), max(bucket, shifted))) == abs(steps) + 1


def test_expiry_is_data_time() -> None:
    interval = parse_intervals({"minute": {"step": 60, "steps": 5}})["minute"]
    assert interval.expire_at(100) == 105 * 60
    assert interval.expired_before(105 * 60 + 30) == 100
    assert parse_intervals({"m": {"step": 60}})["m"].expire_at(100) is None


def test_series_bucket_rules() -> None:
    interval = parse_intervals({"minute": {"step": 60, "steps": 4}})["minute"]
    now = 6000.0  # bucket 100
    assert interval.series_buckets(None, None, None, now) == [97, 98, 99, 100]
    assert interval.series_buckets(None, None, 2, now) == [99, 100]
    assert interval.series_buckets(600, None, 3, now) == [10, 11, 12]
    assert interval.series_buckets(None, 600, 3, now) == [8, 9, 10]
    assert interval.series_buckets(600, 779, 1, now) == [10, 11, 12]  # steps ignored
    assert interval.series_buckets(0, None, 2, now) == [0, 1]  # 0 is a time, not "now"
    assert interval.series_buckets(900, 600, None, now) == [15]
    with pytest.raises(ValidationError):
        interval.series_buckets(None, None, 0, now)
