"""Decoding request JSON, with a bound on how deeply arrays and objects nest.

msgspec decodes nested JSON by recursion, and gives up with ``RecursionError`` near Python's
recursion limit (about 950 levels); code that walks a decoded value recursively (schema
inference, re-encoding) fails sooner. So every request body is checked before it is decoded:
an event may nest ``MAX_JSON_DEPTH`` levels (the event object itself is level 1), and so may any
other body. A body whose events sit inside fixed wrapping (a batch array, Kronos's
``{"events": {stream: [...]}}``) is allowed that wrapping on top (``envelope``).

The check reads the bytes, not a decoded value, and costs no Python loop per byte or per value:
``bytes.translate`` keeps only quotes and brackets, strings are cut out, and each pass of
``bytes.replace`` removes the innermost empty ``[]`` pairs, so the body nests at most ``n``
deep when ``n`` passes leave nothing. A body with at most ``n`` opening brackets in all is
accepted at once, and a run of more openers than the levels left is refused at once. Only a
refused body is decoded again, to name where it goes too deep.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar, overload

import msgspec

from aion.errors import InvalidJson, JsonTooDeep, ValidationError

__all__ = [
    "MAX_JSON_DEPTH",
    "InvalidJson",
    "JsonTooDeep",
    "check_json_depth",
    "decode_json",
    "json_depth_within",
]

MAX_JSON_DEPTH = 64
"""How many levels of arrays and objects one event (or any other request body) may nest.
(Kronos parsed with ujson, which stops at 1024.) 64 leaves room for any real event and keeps
every walk over a decoded value far from Python's recursion limit."""

T = TypeVar("T")


_STRUCTURE = b'"[]{}'
_DROP = bytes(b for b in range(256) if b not in _STRUCTURE)
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_ESCAPES = re.compile(rb'\\[\\"]')
_decode_any = msgspec.json.Decoder().decode
_PATH_BUDGET = 100_000
"""At most this many values are visited to say where a refused body goes too deep."""
_SHOWN_KEY = 40
"""A key in that path is cut to this many characters."""


def json_depth_within(body: bytes, limit: int) -> bool:
    """Whether the JSON text ``body`` nests arrays and objects at most ``limit`` deep.

    Exact for valid JSON; for text that is not JSON the answer means nothing (the decoder
    refuses it anyway).
    """
    if b"\\" in body:
        # An escaped quote does not end a string, an escaped backslash does not escape; no
        # other escape matters here.
        body = _ESCAPES.sub(b"", body)
    skeleton = body.translate(_BRACKETS, _DROP)
    if skeleton.count(b"[") <= limit:
        return True
    # Brackets inside strings are text. When no string holds one, every string is left as
    # an adjacent pair of quotes, and the quotes can simply go.
    quotes = skeleton.count(b'"')
    if quotes == 2 * skeleton.count(b'""'):
        skeleton = skeleton.translate(None, b'"')
    else:
        skeleton = b"".join(skeleton.split(b'"')[::2])
    for removed in range(limit):
        if not skeleton:
            return True
        # Each pass takes one level off every path. A run of openers as long as the levels
        # still allowed proves a path too deep: a deep nest is refused without 64 passes
        # over it.
        if b"[" * (limit - removed + 1) in skeleton:
            return False
        skeleton = skeleton.replace(b"[]", b"")
    return not skeleton


def check_json_depth(body: bytes, *, field: str = "body", envelope: int = 0) -> None:
    """Refuse ``body``, naming ``field``, when it nests deeper than ``MAX_JSON_DEPTH`` plus the
    ``envelope`` levels that wrap its events."""
    limit = MAX_JSON_DEPTH + envelope
    if not json_depth_within(body, limit):
        raise _too_deep(body, field, envelope)


@overload
def decode_json(body: bytes, *, field: str = ..., envelope: int = ...) -> Any: ...


@overload
def decode_json(body: bytes, *, field: str = ..., envelope: int = ..., as_type: type[T]) -> T: ...


def decode_json(body: bytes, *, field: str = "body", envelope: int = 0, as_type: Any = None) -> Any:
    """``body`` decoded (as ``as_type`` when given), after the depth check.

    Every refusal is a ``ValidationError`` naming ``field``, but for one: with ``as_type``, a
    value of the wrong shape raises msgspec's ``ValidationError`` (its message names the
    path) for the caller to word in its API's terms.
    """
    check_json_depth(body, field=field, envelope=envelope)
    try:
        return _decode_any(body) if as_type is None else msgspec.json.decode(body, type=as_type)
    except msgspec.DecodeError as exc:
        if as_type is not None and isinstance(exc, msgspec.ValidationError):
            raise
        raise InvalidJson(f"{field} is not valid JSON: {exc}", field) from exc
    except RecursionError as exc:  # the stack was deep already: the body itself passed
        raise JsonTooDeep(f"{field} nests too deeply to decode here", field) from exc


def _too_deep(body: bytes, field: str, envelope: int) -> ValidationError:
    """The refusal of a body that failed the depth check: invalid JSON, or where it is too
    deep, as far as a decode and a bounded walk can tell."""
    limit = MAX_JSON_DEPTH + envelope
    try:
        value = _decode_any(body)
    except msgspec.DecodeError as exc:
        return InvalidJson(f"{field} is not valid JSON: {exc}", field)
    except RecursionError:
        value = None
    where = _first_too_deep(value, limit, max(envelope, 1)) if value is not None else None
    what = f"{field}{where}" if where else field
    return JsonTooDeep(
        f"{what} nests arrays and objects deeper than {MAX_JSON_DEPTH} levels", field
    )


def _first_too_deep(value: object, limit: int, shown: int) -> str | None:
    """The first ``shown`` steps of the path to the first value (in document order) that sits
    deeper than ``limit``: enough to name the event. None when the visit budget runs out."""
    stack: list[tuple[object, int, tuple[str, ...]]] = [(value, 1, ())]
    visited = 0
    while stack and visited < _PATH_BUDGET:
        node, depth, path = stack.pop()
        visited += 1
        if isinstance(node, dict):
            children = [(v, f".{k[:_SHOWN_KEY]}") for k, v in node.items()]
        elif isinstance(node, list):
            children = [(v, f"[{i}]") for i, v in enumerate(node)]
        else:
            continue
        if depth > limit:
            return "".join(path[:shown])
        stack.extend((v, depth + 1, (*path, step)) for v, step in reversed(children))
    return None
