"""The shipper's decisions, tested with no sockets: buffer, overflow, batching, retries."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aion.client.shipper.buffer import (
    ActionKind,
    Batch,
    PutOutcome,
    ResultOutcome,
    ShipperState,
)
from aion.client.shipper.config import OverflowPolicy, RetryPolicy, ShipperConfig
from aion.client.shipper.retry import (
    Verdict,
    backoff_delay,
    classify_status,
    parse_retry_after,
    plan_retry,
)
from aion.errors import ConfigurationError


def state(**kw: object) -> ShipperState:
    return ShipperState(ShipperConfig(url="http://h/", **kw), rng=random.Random(7))  # type: ignore[arg-type]


def ev(i: int) -> bytes:
    return b'{"i":%d}' % i


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (None, Verdict.RETRY),
        (200, Verdict.SENT),
        (202, Verdict.SENT),
        (204, Verdict.SENT),
        (400, Verdict.REJECTED),
        (401, Verdict.REJECTED),
        (404, Verdict.REJECTED),
        (413, Verdict.REJECTED),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (503, Verdict.RETRY),
        (301, Verdict.REJECTED),
    ],
)
def test_classify_status(status: int | None, verdict: Verdict) -> None:
    assert classify_status(status) is verdict


def test_parse_retry_after() -> None:
    assert parse_retry_after("3", 0) == 3
    assert parse_retry_after(" 1.5 ", 0) == 1.5
    assert parse_retry_after(None, 0) is None
    assert parse_retry_after("", 0) is None
    assert parse_retry_after("-4", 0) is None
    assert parse_retry_after("soon", 0) is None
    now = 1_700_000_000.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now) == 0


@given(failures=st.integers(1, 60), seed=st.integers(0, 2**32))
def test_backoff_is_full_jitter_within_cap(failures: int, seed: int) -> None:
    policy = RetryPolicy(base=0.5, cap=30)
    delay = backoff_delay(policy, failures, None, random.Random(seed))
    assert 0 <= delay <= min(30, 0.5 * 2 ** (failures - 1))


@given(retry_after=st.floats(0, 1e6), seed=st.integers(0, 2**32))
def test_retry_after_is_a_clamped_floor(retry_after: float, seed: int) -> None:
    policy = RetryPolicy(base=0.5, cap=30, max_retry_after=120)
    delay = backoff_delay(policy, 1, retry_after, random.Random(seed))
    assert delay >= min(retry_after, 120)
    assert delay <= max(0.5, min(retry_after, 120))


def test_plan_retry_stops_after_attempts_and_elapsed() -> None:
    policy = RetryPolicy(max_attempts=3, base=1, cap=1, max_elapsed=100)
    assert plan_retry(policy, 1, 0, 0).again
    assert plan_retry(policy, 2, 0, 0).again
    assert not plan_retry(policy, 3, 0, 0).again
    assert not plan_retry(policy, 1, 0, 100.5).again


def test_config_is_checked() -> None:
    with pytest.raises(ConfigurationError):
        ShipperConfig(url="ftp://x")
    with pytest.raises(ConfigurationError):
        ShipperConfig(url="http://x", min_batch=0)
    with pytest.raises(ConfigurationError):
        ShipperConfig(url="http://x", overflow="sometimes")  # type: ignore[arg-type]
    assert ShipperConfig(url="http://x", overflow="block").overflow is OverflowPolicy.BLOCK  # type: ignore[arg-type]


def test_drop_newest_counts_exactly() -> None:
    s = state(max_events=100, overflow=OverflowPolicy.DROP_NEWEST)
    outcomes = [s.put("", ev(i), 0.0) for i in range(150)]
    assert outcomes.count(PutOutcome.QUEUED) == 100
    c = s.counters()
    assert (c.queued, c.dropped, c.depth) == (100, 50, 100)


def test_drop_oldest_keeps_the_newest() -> None:
    s = state(max_events=10, overflow=OverflowPolicy.DROP_OLDEST, max_batch_events=100)
    for i in range(25):
        assert s.put("", ev(i), 0.0) is PutOutcome.QUEUED
    c = s.counters()
    assert (c.queued, c.dropped, c.depth) == (25, 15, 10)
    action = s.next_action(0.0, flushing=True)
    assert action.batch is not None
    assert action.batch.payloads == tuple(ev(i) for i in range(15, 25))


def test_drop_oldest_never_drops_the_batch_being_sent() -> None:
    s = state(max_events=4, overflow=OverflowPolicy.DROP_OLDEST, max_batch_events=4)
    for i in range(4):
        s.put("", ev(i), 0.0)
    action = s.next_action(0.0)
    assert action.kind is ActionKind.SEND and action.batch is not None
    # Everything held is on the wire: a new event cannot push any of it out.
    assert s.put("", ev(99), 0.0) is PutOutcome.FULL
    assert s.on_result(action.batch, Verdict.SENT, 0.0) is ResultOutcome.SENT
    assert s.put("", ev(100), 0.0) is PutOutcome.QUEUED
    c = s.counters()
    assert (c.sent, c.dropped, c.depth) == (4, 1, 1)


def test_bound_by_bytes() -> None:
    s = state(max_bytes=100, overflow=OverflowPolicy.DROP_NEWEST)
    payload = b'{"x":"' + b"a" * 24 + b'"}'  # 32 bytes
    assert [s.put("", payload, 0.0) for _ in range(4)].count(PutOutcome.QUEUED) == 3
    assert s.put("", b"x" * 2000, 0.0) is PutOutcome.FULL


def test_oversized_event_is_dropped() -> None:
    s = state(max_event_bytes=10)
    assert s.put("", b"x" * 11, 0.0) is PutOutcome.TOO_LARGE
    assert s.counters().dropped == 1


def test_triggers_count_interval_min_batch() -> None:
    s = state(max_batch_events=3, flush_interval=5.0, min_batch=2)
    s.put("", ev(0), 10.0)
    assert s.next_action(20.0).kind is ActionKind.IDLE  # under the minimum batch
    s.put("", ev(1), 11.0)
    wait = s.next_action(12.0)
    assert wait.kind is ActionKind.WAIT and wait.until == 15.0
    send = s.next_action(15.0)
    assert send.kind is ActionKind.SEND and send.batch is not None and len(send.batch) == 2
    s.on_result(send.batch, Verdict.SENT, 15.0)
    for i in range(3):
        s.put("", ev(i), 16.0)
    full = s.next_action(16.0)
    assert full.kind is ActionKind.SEND and full.batch is not None and len(full.batch) == 3


def test_batches_split_by_bytes_and_route() -> None:
    s = state(max_batch_bytes=20, max_batch_events=100)
    for i in range(3):
        s.put("a", b'{"i":%d,"pad":1}' % i, 0.0)  # 15 bytes each
    s.put("b", ev(9), 0.0)
    sizes = []
    while (a := s.next_action(0.0, flushing=True)).kind is ActionKind.SEND:
        assert a.batch is not None
        sizes.append((a.batch.route, len(a.batch)))
        s.on_result(a.batch, Verdict.SENT, 0.0)
    assert sizes == [("a", 1), ("a", 1), ("a", 1), ("b", 1)]


def test_events_put_during_a_send_survive_it() -> None:
    s = state()
    for i in range(5):
        s.put("", ev(i), 0.0)
    action = s.next_action(0.0, flushing=True)
    assert action.batch is not None
    for i in range(5, 8):
        s.put("", ev(i), 0.0)
    s.on_result(action.batch, Verdict.SENT, 0.0)
    rest = s.next_action(0.0, flushing=True)
    assert rest.batch is not None
    assert rest.batch.payloads == tuple(ev(i) for i in range(5, 8))


def test_retry_reuses_the_batch_then_gives_up() -> None:
    s = state(retry=RetryPolicy(max_attempts=3, base=1, cap=1))
    s.put("", ev(0), 0.0)
    first = s.next_action(0.0, flushing=True)
    assert first.batch is not None
    assert s.on_result(first.batch, Verdict.RETRY, 0.0) is ResultOutcome.RETRY_LATER
    wait = s.next_action(0.0)
    assert wait.kind is ActionKind.WAIT
    again = s.next_action(5.0)
    assert again.batch is first.batch  # same events, same batch id
    assert s.on_result(first.batch, Verdict.RETRY, 5.0, retry_after=2) is ResultOutcome.RETRY_LATER
    assert s.next_action(6.9).kind is ActionKind.WAIT  # Retry-After is a floor
    third = s.next_action(7.1)
    assert third.batch is first.batch
    assert s.on_result(first.batch, Verdict.RETRY, 7.1) is ResultOutcome.GIVE_UP
    s.mark_spilled(first.batch)
    c = s.counters()
    assert (c.retried, c.spilled, c.depth) == (2, 1, 0)


def test_rejected_is_not_retried() -> None:
    s = state()
    s.put("", ev(0), 0.0)
    a = s.next_action(0.0, flushing=True)
    assert a.batch is not None
    assert s.on_result(a.batch, Verdict.REJECTED, 0.0) is ResultOutcome.REJECTED
    assert s.is_empty and s.counters().rejected == 1


def test_drain_and_stale_result() -> None:
    s = state(max_batch_events=2)
    for i in range(5):
        s.put("", ev(i), 0.0)
    a = s.next_action(0.0)
    assert a.batch is not None
    drained = s.drain()
    assert [len(b) for b in drained] == [2, 2, 1]
    assert drained[0] is a.batch
    assert s.on_result(a.batch, Verdict.SENT, 0.0) is ResultOutcome.STALE
    assert s.is_empty


@settings(max_examples=200)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("put"), st.integers(0, 300)),
            st.tuples(st.just("send"), st.sampled_from(list(Verdict))),
        ),
        max_size=200,
    ),
    policy=st.sampled_from([OverflowPolicy.DROP_OLDEST, OverflowPolicy.DROP_NEWEST]),
)
def test_accounting_always_adds_up(ops: list[tuple[str, object]], policy: OverflowPolicy) -> None:
    s = state(
        max_events=20,
        max_bytes=2000,
        max_batch_events=7,
        overflow=policy,
        retry=RetryPolicy(max_attempts=2, base=0, cap=0),
    )
    offered = 0
    now = 0.0
    for kind, arg in ops:
        now += 1
        if kind == "put":
            assert isinstance(arg, int)
            offered += 1
            s.put("", b'{"v":"' + b"x" * arg + b'"}', now)
        else:
            action = s.next_action(now, flushing=True)
            if action.kind is ActionKind.SEND:
                assert action.batch is not None
                assert isinstance(arg, Verdict)
                if s.on_result(action.batch, arg, now) is ResultOutcome.GIVE_UP:
                    s.mark_spilled(action.batch)
        c = s.counters()
        assert c.depth <= 20
        # Every offered event is accounted for exactly once.
        assert offered == c.sent + c.dropped + c.rejected + c.spilled + c.depth


def test_an_event_the_server_would_refuse_for_depth_is_refused_at_once() -> None:
    # Sent, it would make the server refuse its whole batch; refused here, only it is lost.
    from aion.client.shipper.base import ShipperBase
    from aion.errors import ValidationError

    def nested(levels: int) -> dict[str, object]:
        event: dict[str, object] = {"a": 1}
        for _ in range(levels - 1):
            event = {"a": event}
        return event

    assert ShipperBase.encode_event(nested(64)).count(b"{") == 64
    for levels in (65, 5000):
        with pytest.raises(ValidationError, match="deeper than 64 levels") as caught:
            ShipperBase.encode_event(nested(levels))
        assert caught.value.field == "event"


def test_tick_schedule_sends_at_the_next_tick_not_a_full_interval_later() -> None:
    """PyKronos's sender sent what was queued every sleep_block: an event put just before a
    tick leaves at that tick. The age schedule waits the full interval after the oldest."""
    ticked = state(flush_interval=1.0, flush_schedule="tick")
    ticked.put("", ev(0), 10.0)  # the first event: the ticks are 10, 11, 12...
    first = ticked.next_action(10.0)
    assert first.kind is ActionKind.SEND
    ticked.on_result(first.batch or _never(), Verdict.SENT, 10.0)
    ticked.put("", ev(1), 11.9)
    action = ticked.next_action(11.9)
    assert (action.kind, action.until) == (ActionKind.WAIT, 12.0)
    aged = state(flush_interval=1.0)
    aged.put("", ev(1), 11.9)
    action = aged.next_action(11.9)
    assert (action.kind, action.until) == (ActionKind.WAIT, 12.9)


def _never() -> Batch:
    raise AssertionError("no batch")


def test_a_full_buffer_with_a_spool_evicts_the_oldest_for_the_spool() -> None:
    s = state(max_events=4, max_batch_events=2, overflow="drop_newest", spool_dir="/spool")
    for i in range(6):
        assert s.put("r", ev(i), 0.0) is PutOutcome.QUEUED
    evicted = s.take_overflow()
    assert [b.payloads for b in evicted] == [(ev(0), ev(1))]
    assert s.held_payloads() == [ev(i) for i in range(2, 6)]
    assert s.counters().dropped == 0
    assert s.take_overflow() == []


def test_clean_since_last_flush_sees_every_loss_once() -> None:
    s = state(max_events=1, overflow="drop_newest")
    assert s.clean_since_last_flush()
    s.put("", ev(0), 0.0)
    s.put("", ev(1), 0.0)  # dropped
    assert not s.clean_since_last_flush()
    assert s.clean_since_last_flush()
