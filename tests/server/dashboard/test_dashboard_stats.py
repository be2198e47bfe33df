"""The dashboard's pure computations: rates, bucket summaries, downsampling."""

from __future__ import annotations

from aion.core.time import TICKS_PER_SECOND
from aion.server.dashboard.stats import (
    TICKS_PER_MINUTE,
    downsample,
    numeric_value,
    shards_rate,
    stream_rate,
    summarise_bucket,
)

NOW = 1_800_000_000 * TICKS_PER_SECOND


def test_rate_counts_per_minute_bins_oldest_first() -> None:
    times = [NOW - 5, NOW - TICKS_PER_MINUTE - 1, NOW - 4 * TICKS_PER_MINUTE]
    rate = stream_rate(times, NOW, window_minutes=5, cap=100)
    assert rate.count == 3
    assert rate.per_minute == 3 / 5
    assert not rate.estimated
    assert rate.bins == [1, 0, 0, 1, 1]


def test_rate_of_an_empty_stream_is_zero() -> None:
    rate = stream_rate([], NOW, window_minutes=3, cap=10)
    assert (rate.count, rate.per_minute, rate.estimated, rate.bins) == (0, 0.0, False, [0, 0, 0])


def test_a_capped_read_extrapolates_from_the_span_it_covers() -> None:
    # 600 events over the last 2 minutes, read with a cap of 600: 300 a minute, estimated.
    step = 2 * TICKS_PER_MINUTE // 600
    times = [NOW - i * step for i in range(600)]
    rate = stream_rate(times, NOW, window_minutes=10, cap=600)
    assert rate.estimated
    assert abs(rate.per_minute - 300) < 1
    # The minute holding the oldest event read may hold more, and older ones were not read:
    # unknown, not zero.
    assert rate.bins[:9] == [None] * 9
    assert rate.bins[9] == 300


def test_a_burst_in_one_instant_is_not_an_infinite_rate() -> None:
    rate = stream_rate([NOW] * 50, NOW, window_minutes=15, cap=50)
    assert rate.estimated
    assert rate.per_minute == 50 * 60


def test_numeric_values() -> None:
    assert numeric_value(3) == 3.0
    assert numeric_value(2.5) == 2.5
    assert numeric_value(True) == 1.0
    assert numeric_value(False) == 0.0
    assert numeric_value("32") is None
    assert numeric_value(None) is None


def test_bucket_summary_keeps_the_latest_value_per_key() -> None:
    newest_first = [
        {"key": "temp", "value": 22.5, "@time": 30},
        {"key": "door", "value": "open", "@time": 20},
        {"key": "temp", "value": 21.0, "@time": 10},
        {"other": "shape", "@time": 5},
        {"key": "temp", "value": 20.0, "@time": 1},
    ]
    keys, skipped = summarise_bucket(newest_first, points_per_key=2)
    assert skipped == 1
    assert [k.key for k in keys] == ["door", "temp"]
    door, temp = keys
    assert (door.latest, door.latest_time, door.count, door.points) == ("open", 20, 1, [])
    assert (temp.latest, temp.latest_time, temp.count) == (22.5, 30, 3)
    assert temp.points == [(30, 22.5), (10, 21.0)]  # at most 2, newest first


def test_downsample_keeps_short_series_and_averages_long_ones() -> None:
    short = [(1, 1.0), (2, 2.0)]
    assert downsample(short, 10) == short
    long = [(t, float(t % 2)) for t in range(1000)]
    reduced = downsample(long, 10)
    assert len(reduced) == 10
    assert all(abs(v - 0.5) < 0.01 for _, v in reduced)
    assert reduced[0][0] < reduced[-1][0]


def test_shards_rate_sums_shards_and_estimates_a_capped_one() -> None:
    now = 10 * TICKS_PER_MINUTE
    quiet = [now - 4 * TICKS_PER_MINUTE, now - 1]  # 2 events, all counted
    busy = [now - (9 - 2 * i) * TICKS_PER_MINUTE // 2 for i in range(3)]  # capped at 3
    rate = shards_rate([quiet, busy], now, window_minutes=5, shard_cap=3)
    assert (rate.count, rate.estimated) == (5, True)
    # The capped shard's minutes after its newest counted time are not fully counted.
    assert rate.bins == [2, 1, None, None, None]
    assert rate.per_minute > 2 / 5 + 3 / 5
    exact = shards_rate([quiet, []], now, window_minutes=5, shard_cap=3)
    assert (exact.count, exact.estimated, exact.bins) == (2, False, [1, 0, 0, 0, 1])
