"""Shard iterators as opaque, signed strings, shared by the native and Kinesis streams APIs.

An iterator names a namespace, a stream, a shard and a :class:`Position` inside it, plus the
time it was issued. It is carried by the client, not stored by the server, so any server
process that shares the signing key can continue a read. The HMAC does not make the position
secret (the payload is only base64); it makes a forged, truncated or corrupted iterator fail
cleanly instead of reading from a wrong place.

Kinesis iterators expire five minutes after they are issued; :meth:`IteratorCodec.decode`
checks that when asked to, and the native API asks not to (its iterators are positions).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import msgspec

from aion.errors import BackendUnavailable, ValidationError
from aion.streams.protocol import Position, PositionKind

__all__ = [
    "KINESIS_ITERATOR_TTL_MS",
    "ExpiredIterator",
    "InvalidIterator",
    "IteratorCodec",
    "IteratorState",
    "codec_for",
]

KINESIS_ITERATOR_TTL_MS = 300_000
"""Kinesis shard iterators are valid for five minutes after GetShardIterator or GetRecords."""

_VERSION = 1
_SIGNATURE_BYTES = 12
_KINDS = tuple(PositionKind)


class InvalidIterator(ValidationError):
    """An iterator this server did not issue, or one that was altered; field ``iterator``."""


class ExpiredIterator(ValidationError):
    """An iterator older than its time to live; field ``iterator``."""

    def __init__(self, message: str, issued_ms: int, now_ms: int) -> None:
        super().__init__(message, "iterator")
        self.issued_ms = issued_ms
        self.now_ms = now_ms


@dataclass(frozen=True, slots=True)
class IteratorState:
    """What an iterator encodes: where to read next and when the iterator was issued
    (milliseconds since the Unix epoch)."""

    namespace: str
    stream: str
    shard: int
    position: Position
    issued_ms: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class IteratorCodec:
    """Encodes and checks iterators with an HMAC-SHA256 key."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("an iterator key must not be empty")
        self._key = key

    @classmethod
    def from_secret(cls, secret: str) -> IteratorCodec:
        """A codec whose key is derived from a configured secret string."""
        return cls(hashlib.sha256(b"aion-shard-iterator\0" + secret.encode("utf-8")).digest())

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()
        return _b64(digest[:_SIGNATURE_BYTES])

    def encode(self, state: IteratorState) -> str:
        """The opaque string for ``state``."""
        body = msgspec.json.encode(
            [
                _VERSION,
                state.namespace,
                state.stream,
                state.shard,
                _KINDS.index(state.position.kind),
                state.position.value,
                state.issued_ms,
            ]
        )
        payload = _b64(body)
        return f"{payload}.{self._sign(payload)}"

    def decode(self, token: str, now_ms: int, ttl_ms: int | None = None) -> IteratorState:
        """The state inside ``token``; raises :class:`InvalidIterator` for anything this codec
        did not sign, and :class:`ExpiredIterator` when ``ttl_ms`` is given and exceeded."""
        if not isinstance(token, str) or token.count(".") != 1:
            raise InvalidIterator("the shard iterator is malformed", "iterator")
        payload, signature = token.split(".")
        try:
            payload.encode("ascii")
            signature.encode("ascii")
        except UnicodeEncodeError as exc:
            raise InvalidIterator("the shard iterator is malformed", "iterator") from exc
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidIterator("the shard iterator is invalid or was altered", "iterator")
        try:
            fields = msgspec.json.decode(
                _unb64(payload), type=tuple[int, str, str, int, int, int, int]
            )
        except (binascii.Error, ValueError, msgspec.ValidationError) as exc:
            raise InvalidIterator("the shard iterator is malformed", "iterator") from exc
        version, namespace, stream, shard, kind, value, issued_ms = fields
        if version != _VERSION or not 0 <= kind < len(_KINDS):
            raise InvalidIterator("the shard iterator has an unknown version", "iterator")
        if ttl_ms is not None and now_ms - issued_ms > ttl_ms:
            raise ExpiredIterator(
                f"Iterator expired. The iterator was created at time {issued_ms} while right "
                f"now it is {now_ms} which is further in the future than the tolerated delay "
                f"of {ttl_ms} milliseconds.",
                issued_ms,
                now_ms,
            )
        try:
            position = Position(_KINDS[kind], value)
        except ValidationError as exc:  # signed before positions had bounds
            raise InvalidIterator(f"the shard iterator is out of range: {exc}", "iterator") from exc
        return IteratorState(namespace, stream, shard, position, issued_ms)


def codec_for(state: Any) -> IteratorCodec:
    """The app's iterator codec (``app.state.iterator_codec``), made once on first use.

    The key comes from ``config.extra["iterator_secret"]`` when set. Otherwise a cluster
    server (one with a shared keys store) uses the secret kept in that store, made once by the
    first server that asked, so every server of the cluster accepts the others' iterators;
    until its key ring has read it, this raises ``BackendUnavailable`` (503). A single server
    derives the key from its node id and data directory, so every worker of one server accepts
    the iterators of the others (integrity, not secrecy: see the module docstring).
    """
    codec = getattr(state, "iterator_codec", None)
    if isinstance(codec, IteratorCodec):
        return codec
    config = state.config
    keyring = getattr(state, "keyring", None)
    secret = config.extra.get("iterator_secret")
    if not secret and keyring is not None and keyring.shared:
        secret = keyring.iterator_secret
        if secret is None:
            raise BackendUnavailable(
                "API keys", f"the iterator secret in {keyring.where} cannot be read yet"
            )
    secret = secret or f"{config.node_id}:{config.data_dir}"
    codec = IteratorCodec.from_secret(str(secret))
    state.iterator_codec = codec
    return codec
