"""Checkpointed writes on every backend: data and checkpoint move together or not at all."""

from __future__ import annotations

import threading
import uuid

import pytest

from aion.errors import ValidationError
from aion.timeseries import Advance
from tests.timeseries.conftest import MakeTs

INTERVALS = {"minute": {"step": 60}, "hour": {"step": 3600}}


def test_first_checkpoint_then_compare_and_set(make_ts: MakeTs) -> None:
    ts = make_ts(type="count", intervals=INTERVALS)
    key = f"rule|ns|s|0|{uuid.uuid4().hex[:6]}"
    assert ts.checkpoint(key) == 0
    assert ts.bulk_insert_checkpointed({0: {"hits": [1, 1]}}, Advance(key, 0, 5))
    assert ts.checkpoint(key) == 5
    # A stale expectation writes nothing: the batch was applied by someone else.
    assert not ts.bulk_insert_checkpointed({0: {"hits": [1]}}, Advance(key, 0, 6))
    assert not ts.bulk_insert_checkpointed({0: {"hits": [1]}}, Advance(key, 4, 6))
    assert ts.get("hits", "minute", timestamp=0) == {0: 2}
    assert ts.bulk_insert_checkpointed({60: {"hits": [3]}}, Advance(key, 5, 9))
    assert ts.checkpoint(key) == 9
    assert ts.get("hits", "hour", timestamp=0) == {0: 5}


def test_empty_batch_moves_the_checkpoint_only(make_ts: MakeTs) -> None:
    ts = make_ts(type="histogram", intervals=INTERVALS)
    key = f"k{uuid.uuid4().hex[:6]}"
    assert ts.bulk_insert_checkpointed({}, Advance(key, 0, 100))
    assert ts.checkpoint(key) == 100
    assert ts.list() == []


def test_bad_value_moves_nothing(make_ts: MakeTs) -> None:
    ts = make_ts(type="count", intervals=INTERVALS)
    key = f"k{uuid.uuid4().hex[:6]}"
    with pytest.raises(ValidationError):
        ts.bulk_insert_checkpointed({0: {"hits": ["x"]}}, Advance(key, 0, 1))
    assert ts.checkpoint(key) == 0
    assert ts.get("hits", "minute", timestamp=0) == {0: 0}


def test_racing_consumers_apply_each_batch_once(make_ts: MakeTs, backend: str) -> None:
    if backend == "mariadb":
        pytest.skip("covered by PostgreSQL; MariaDB row locks behave the same")
    ts = make_ts(type="count", intervals=INTERVALS)
    key = f"k{uuid.uuid4().hex[:6]}"
    batches = 30
    applied: list[int] = []
    lock = threading.Lock()

    def consumer() -> None:
        while True:
            current = ts.checkpoint(key)
            if current >= batches:
                return
            if ts.bulk_insert_checkpointed({0: {"n": [1]}}, Advance(key, current, current + 1)):
                with lock:
                    applied.append(current + 1)

    threads = [threading.Thread(target=consumer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(applied) == list(range(1, batches + 1))
    assert ts.get("n", "minute", timestamp=0) == {0: batches}
