from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aion.core.events import prepare_event, prepare_raw_events, validate_stream_name
from aion.core.ids import kronos_time_from_sort_key
from aion.core.schema import infer_schema
from aion.errors import InvalidEventTime, InvalidStreamName, ValidationError


@pytest.mark.parametrize("name", ["a", "yourproduct.website.clicks", "x-y_z.0", "a" * 2048])
def test_valid_stream_names(name: str) -> None:
    assert validate_stream_name(name) == name


@pytest.mark.parametrize("name", ["", "a b", "a/b", "a:b", "a" * 2049, "é\n", 5, None])
def test_invalid_stream_names_name_the_field(name: object) -> None:
    with pytest.raises(InvalidStreamName) as info:
        validate_stream_name(name)
    assert info.value.field == "stream"


def test_prepare_assigns_time_and_overwrites_id() -> None:
    ev = {"a": 1, "@id": "client-sent"}
    prepared = prepare_event(ev, now=1234)
    body = json.loads(prepared.payload)
    assert body["@time"] == 1234 == prepared.time
    assert body["@id"] != "client-sent"
    assert kronos_time_from_sort_key(prepared.key) == 1234
    assert ev == {"a": 1, "@id": "client-sent"}  # the caller's event is untouched


@pytest.mark.parametrize("bad", [1.0, "5", True, None, [1]])
def test_prepare_refuses_non_integer_time(bad: object) -> None:
    with pytest.raises(InvalidEventTime) as info:
        prepare_event({"@time": bad}, now=0)
    assert info.value.field == "@time"


def test_prepare_refuses_non_objects() -> None:
    with pytest.raises(ValidationError):
        prepare_event([1, 2], now=0)


def test_schema_lattice() -> None:
    events = [
        {"@id": "x", "@time": 1, "a": 1, "b": None, "c": [1], "d": {"e": True}},
        {"@id": "y", "@time": 2, "a": 2.5, "b": "s", "c": [2.0], "d": {"e": False, "f": 1}},
        {"@id": "z", "@time": 3, "a": 3, "c": [], "d": {"e": True}, "g": "only here"},
    ]
    schema = infer_schema(events)
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema"
    assert schema["required"] == ["@id", "@time", "a", "c", "d"]
    props = schema["properties"]
    assert props["a"] == {"type": "number"}
    assert props["b"] == {"type": "string"}
    assert props["@time"] == {"type": "integer"}
    assert props["@id"] == {"type": "string"}
    assert props["c"] == {"type": "array", "items": {"type": "number"}}
    assert props["d"]["required"] == ["e"]
    assert props["d"]["properties"]["e"] == {"type": "boolean"}


def test_schema_bool_is_never_integer_and_conflicts_are_any() -> None:
    schema = infer_schema([{"a": True}, {"a": 1}])
    assert schema["properties"]["a"] == {"type": "any"}


def test_schema_single_event_required_is_sorted() -> None:
    schema = infer_schema([{"z": 1, "@time": 1, "a": 2, "@id": "u"}])
    assert schema["required"] == ["@id", "@time", "a", "z"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
events_strategy = st.dictionaries(
    st.sampled_from(["a", "b", "@id", "@time", "nested", "é"]), json_values, max_size=4
)


@given(st.lists(events_strategy, max_size=6))
def test_raw_path_matches_the_dict_path(events: list[dict[str, object]]) -> None:
    raw = json.dumps(events).encode()
    records, errors = prepare_raw_events(raw, now=77)
    by_dict_ok = []
    for event in events:
        try:
            by_dict_ok.append(prepare_event(event, now=77))
        except ValidationError:
            pass
    assert len(records) == len(by_dict_ok)
    assert len(records) + len(errors) == len(events)
    for got, want in zip(records, by_dict_ok, strict=True):
        a, b = json.loads(got.payload), json.loads(want.payload)
        assert a.pop("@id") != b.pop("@id")
        assert a == b
        assert got.time == want.time
        assert kronos_time_from_sort_key(got.key) == got.time


def test_raw_path_reports_bad_items_by_index() -> None:
    records, errors = prepare_raw_events(b'[{"a":1}, 5, {"@time": 1.5}, {}, {"@time": 3}]', now=9)
    assert [i for i, _ in errors] == [1, 2]
    assert [json.loads(p)["@time"] for p in records.payloads] == [9, 9, 3]
    assert json.loads(records.payloads[1]).keys() == {"@id", "@time"}
    with pytest.raises(ValidationError):
        prepare_raw_events(b'{"not": "a list"}', now=0)
