"""The pure parts: formats, state files, batch cutting and batch ids."""

from __future__ import annotations

import json

import pytest

from aion.client.transfer.batches import BatchPlanner, InvalidRecord, batch_id, check_event
from aion.client.transfer.plan import (
    ExportState,
    ImportState,
    TransferFormat,
    decode_state,
    differences,
    encode_state,
    export_paths,
    guess_format,
)
from aion.errors import ValidationError


@pytest.mark.parametrize(
    ("path", "given", "expected"),
    [
        ("-", None, TransferFormat.JSONL),
        ("a/b.parquet", None, TransferFormat.PARQUET),
        ("b.PQ", None, TransferFormat.PARQUET),
        ("b.ndjson", None, TransferFormat.JSONL),
        ("b.txt", None, TransferFormat.JSONL),
        ("b.jsonl", "Parquet", TransferFormat.PARQUET),
    ],
)
def test_guess_format(path: str, given: str | None, expected: TransferFormat) -> None:
    assert guess_format(path, given) is expected


def test_unknown_format_names_the_choices() -> None:
    with pytest.raises(
        ValidationError, match="unknown format 'csv'; choose one of: jsonl, parquet"
    ):
        guess_format("x", "csv")


def test_state_round_trip_and_refusals() -> None:
    state = ExportState(
        url="http://h", namespace=None, stream="s", format=TransferFormat.PARQUET, start="-1h",
        end=None, start_time=1, end_time=2, last_id="x", events=3, segments=1,
    )  # fmt: skip
    data = encode_state(state)
    assert json.loads(data)["format"] == "parquet"
    assert decode_state(data, ExportState, "f") == state
    with pytest.raises(ValidationError, match="f is not a state file"):
        decode_state(data, ImportState, "f")
    with pytest.raises(ValidationError, match="state version 99"):
        decode_state(data.replace(b'"version":1', b'"version":99'), ExportState, "f")
    with pytest.raises(ValidationError, match="not a state file"):
        decode_state(b"{", ExportState, "f")


def test_differences_list_what_changed() -> None:
    assert differences({"a": 1, "b": 2}, {"a": 1, "b": 3}) == ["b: 2 → 3"]
    assert differences({"a": 1}, {"a": 1}) == []


def test_export_paths() -> None:
    paths = export_paths("out/x.parquet")
    assert (paths.partial, paths.state, paths.segments) == (
        "out/x.parquet.partial", "out/x.parquet.partial.state", "out/x.parquet.partial.d",
    )  # fmt: skip


def test_check_event() -> None:
    assert check_event(b' {"a": 1} \r\n', "line", 3) == b'{"a": 1}'
    assert check_event(b"\xef\xbb\xbf{}\n", "line", 1) == b"{}"  # a BOM on the first line
    assert check_event(b"  \n", "line", 2) is None
    assert check_event(b'{"@time": 5}', "row", 1) == b'{"@time": 5}'
    at_the_limit = b'{"a":' * 64 + b"1" + b"}" * 64
    assert check_event(at_the_limit, "line", 5) == at_the_limit
    for raw, message in [
        (b"nope", "line 4: not valid JSON"),
        (b'"text"', "line 4: an event must be a JSON object, not str"),
        (b'{"@time": "2024"}', "line 4: @time must be an integer"),
        # the server would refuse the whole batch for one event nested this deep
        (b'{"a":' * 65 + b"1" + b"}" * 65, "line 4: nests arrays and objects deeper than 64"),
        (b"[" * 5000 + b"]" * 5000, "line 4: nests arrays and objects deeper than 64"),
    ]:
        with pytest.raises(InvalidRecord, match=message) as caught:
            check_event(raw, "line", 4)
        assert caught.value.number == 4 and caught.value.field == "event"


def test_planner_cuts_by_count_and_records_positions() -> None:
    planner = BatchPlanner(batch_size=2)
    assert planner.add(b"{}", 3, 1) is None
    assert planner.add(None, 4, 2) is None  # a blank line moves the position only
    full = planner.add(b'{"a":1}', 12, 3)
    assert full is not None
    assert (full.number, full.events, full.end_offset, full.end_line) == (
        0,
        [b"{}", b'{"a":1}'],
        12,
        3,
    )
    assert full.body() == b'[{},{"a":1}]'
    assert planner.finish() is None
    assert planner.add(b"{}", 15, 4) is None
    last = planner.finish()
    assert last is not None and (last.number, len(last), last.end_line) == (1, 1, 4)


def test_planner_cuts_by_bytes_before_the_event_that_overflows() -> None:
    planner = BatchPlanner(batch_size=100, max_bytes=20)
    assert planner.add(b"x" * 8, 9, 1) is None
    assert planner.add(b"y" * 8, 18, 2) is None
    full = planner.add(b"z" * 8, 27, 3)
    assert full is not None and full.events == [b"x" * 8, b"y" * 8] and full.end_offset == 18
    big = planner.add(b"w" * 50, 78, 4)  # alone past the limit: it travels alone
    assert big is not None and big.events == [b"z" * 8]
    rest = planner.finish()
    assert rest is not None and rest.events == [b"w" * 50] and rest.number == 2
    with pytest.raises(ValidationError):
        BatchPlanner(batch_size=0)


def test_batch_ids_are_stable_distinct_and_short() -> None:
    key = "k" * 24
    one = batch_id(key, 7, b"[{}]")
    assert one == batch_id(key, 7, b"[{}]")
    assert len({one, batch_id(key, 8, b"[{}]"), batch_id(key, 7, b"[{ }]"),
                batch_id("j" * 24, 7, b"[{}]")}) == 4  # fmt: skip
    assert len(batch_id(key, 10**12, b"")) <= 128
