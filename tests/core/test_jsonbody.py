"""The JSON nesting check: exact on any valid JSON, whatever its strings hold."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aion.core.jsonbody import (
    MAX_JSON_DEPTH,
    InvalidJson,
    JsonTooDeep,
    check_json_depth,
    decode_json,
    json_depth_within,
)
from aion.core.schema import infer_schema, schema_of


def depth(value: Any) -> int:
    """The reference: levels of arrays and objects, walked directly."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def nested(n: int, inner: bytes = b"1") -> bytes:
    return b'{"a":' * n + inner + b"}" * n


# Strings full of the characters the check must see through: brackets, quotes, backslashes.
tricky_text = st.text(alphabet='[]{}"\\/ ab\u00e9\u4e2d\n', max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4),
    max_leaves=60,
)


@given(json_values)
def test_the_check_agrees_with_a_walk(value: Any) -> None:
    real = depth(value)
    encodings = [
        msgspec.json.encode(value),
        json.dumps(value).encode(),  # \uXXXX escapes
        json.dumps(value, ensure_ascii=False, indent=1).encode(),
    ]
    for body in encodings:
        for limit in {0, 1, max(real - 1, 0), real, real + 1}:
            assert json_depth_within(body, limit) == (real <= limit), (body, limit)


@pytest.mark.parametrize(
    "body",
    [
        # closing brackets inside strings must not cancel real opening ones
        b"[" * 70 + b'"' + b"]" * 70 + b'"' + b"]" * 70,
        b"[" * 40 + b'"]]]]]]]]]]]]]]]]]]]]"' + b"," + b"[" * 40 + b"]" * 80,
        # an escaped backslash ends the string before the quote that follows it
        b'["\\\\",' + b"[" * 70 + b"]" * 71,
        b'{"k\\"":' + nested(70) + b"}",
    ],
)
def test_strings_cannot_hide_depth(body: bytes) -> None:
    msgspec.json.decode(body)  # valid JSON
    assert not json_depth_within(body, MAX_JSON_DEPTH)


def test_brackets_in_strings_do_not_count() -> None:
    body = b'["' + b"[" * 1000 + b'", "\\"' + b"{" * 1000 + b'"]'
    assert json_depth_within(body, 1)


def test_the_limit_is_exact() -> None:
    check_json_depth(nested(MAX_JSON_DEPTH))
    with pytest.raises(JsonTooDeep):
        check_json_depth(nested(MAX_JSON_DEPTH + 1))
    check_json_depth(b"[" + nested(MAX_JSON_DEPTH) + b"]", envelope=1)
    with pytest.raises(JsonTooDeep):
        check_json_depth(b"[" + nested(MAX_JSON_DEPTH + 1) + b"]", envelope=1)


def test_refusals_name_the_field_and_the_event() -> None:
    body = b"[{}, {}, " + nested(MAX_JSON_DEPTH + 1) + b"]"
    with pytest.raises(JsonTooDeep) as caught:
        decode_json(body, field="events", envelope=1)
    assert caught.value.field == "events"
    assert str(caught.value).startswith("events[2] nests arrays and objects deeper than 64")
    # far past what the decoder can read at all: no path, still a clean refusal
    with pytest.raises(JsonTooDeep, match=r"^body nests"):
        decode_json(b"[" * 100_000 + b"]" * 100_000)


def test_invalid_json_is_refused_as_such() -> None:
    for body in [b"{", b"[" * 100, b"1" * 5000, b"[1e400]"]:
        with pytest.raises(InvalidJson) as caught:
            decode_json(body)
        assert caught.value.field == "body"


def test_typed_decoding_leaves_shape_errors_to_the_caller() -> None:
    class Body(msgspec.Struct):
        n: int

    assert decode_json(b'{"n": 1}', as_type=Body) == Body(1)
    with pytest.raises(msgspec.ValidationError, match=r"\$\.n"):
        decode_json(b'{"n": "x"}', as_type=Body)
    with pytest.raises(JsonTooDeep):
        decode_json(b'{"n": ' + nested(100) + b"}", as_type=Body)


def test_schema_inference_stops_at_the_limit() -> None:
    deep = msgspec.json.decode(nested(900))  # stored before the API refused such events
    schema = schema_of(deep)
    levels = 0
    while "properties" in schema:
        schema = schema["properties"]["a"]
        levels += 1
    assert levels == MAX_JSON_DEPTH and schema == {"type": "object"}
    merged = infer_schema([deep, {"a": 1}, {"a": {"b": 2}}])
    assert merged["properties"]["a"] == {"type": "any"}
    assert infer_schema([deep, deep])["required"] == ["a"]
