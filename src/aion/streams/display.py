"""Sharded-stream records made readable for people: ``aion get`` and the dashboard's tail.

Over SQL a record appended to a sharded stream is also an event of the time API, kept as the
envelope ``{"@time", "@id", "partition_key", "data": "<base64 of the bytes>"}``. Shown to a
person, the bytes are decoded: JSON data (what the native API and most Kinesis producers
write) or msgpack data (what Triton writes) becomes ``data`` holding the value; other bytes
stay base64 under ``data_base64``, the marker the native API uses for raw bytes. Any other
event is shown unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

import msgpack

__all__ = ["ENVELOPE_KEYS", "decode_data", "is_record_envelope", "readable_event"]

ENVELOPE_KEYS = frozenset({"@time", "@id", "partition_key", "data"})
"""The keys of a record's envelope, exactly: an event with other keys is not one."""

_UNDECODED = object()


def _plain(value: Any) -> Any:
    """A msgpack value as JSON can hold it: bytes inside become base64 strings, map keys
    strings."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)  # a msgpack extension type or timestamp


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _UNDECODED


def _msgpack(data: bytes) -> Any:
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return _UNDECODED
    # A lone small integer or one-byte value is more likely text that happens to parse.
    return value if isinstance(value, dict | list) else _UNDECODED


def decode_data(data: bytes) -> tuple[str, Any]:
    """``("data", value)`` for JSON or msgpack bytes (a msgpack map or array), else
    ``("data_base64", "<base64>")``."""
    for decode in (_json, _msgpack):
        value = decode(data)
        if value is not _UNDECODED:
            return "data", _plain(value)
    return "data_base64", base64.b64encode(data).decode("ascii")


def is_record_envelope(event: Mapping[str, Any]) -> bool:
    """Whether an event is a sharded-stream record's envelope (its keys exactly
    :data:`ENVELOPE_KEYS`, ``data`` a base64 string)."""
    return set(event) == ENVELOPE_KEYS and isinstance(event.get("data"), str)


def readable_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event with a record envelope's data decoded (see the module doc); any other event
    as it is."""
    if not is_record_envelope(event):
        return event
    try:
        data = base64.b64decode(event["data"], validate=True)
    except (binascii.Error, ValueError):
        return event
    key, value = decode_data(data)
    return {
        "@time": event["@time"],
        "@id": event["@id"],
        "partition_key": event["partition_key"],
        key: value,
    }
