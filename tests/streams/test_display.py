"""Sharded-stream records made readable: JSON and msgpack data decoded, other bytes marked."""

from __future__ import annotations

import base64

import msgpack

from aion.streams.display import decode_data, readable_event


def _envelope(data: bytes) -> dict[str, object]:
    return {
        "@time": 1,
        "@id": "i",
        "partition_key": "k",
        "data": base64.b64encode(data).decode(),
    }


def test_json_and_msgpack_data_are_decoded() -> None:
    assert decode_data(b'{"a": [1, "x"]}') == ("data", {"a": [1, "x"]})
    packed = msgpack.packb({"msg": "hi\n", "ts": 1.5, "raw": b"\x00\x01"})
    assert decode_data(packed) == ("data", {"msg": "hi\n", "ts": 1.5, "raw": "AAE="})
    assert decode_data(msgpack.packb([1, 2])) == ("data", [1, 2])


def test_other_bytes_stay_base64_under_a_marker() -> None:
    for data in (b"hi", b"h", b"\xff\xfe", b""):
        assert decode_data(data) == ("data_base64", base64.b64encode(data).decode())


def test_only_record_envelopes_change() -> None:
    shown = readable_event(_envelope(msgpack.packb({"msg": "hi"})))
    assert shown == {"@time": 1, "@id": "i", "partition_key": "k", "data": {"msg": "hi"}}
    assert readable_event(_envelope(b"\x00"))["data_base64"] == "AA=="
    ordinary = {"@time": 1, "@id": "i", "data": "aGk="}
    assert readable_event(ordinary) is ordinary
    more_keys = {**_envelope(b"{}"), "user": 1}
    assert readable_event(more_keys) is more_keys
    not_base64 = {**_envelope(b"{}"), "data": "not base64!"}
    assert readable_event(not_base64) is not_base64
