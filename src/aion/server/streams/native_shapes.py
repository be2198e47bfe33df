"""Request bodies and response shapes of the native streams API (``/v1/streams``).

Pure: msgspec Structs for the bodies (their JSON Schema goes into OpenAPI), conversion of
records between their wire form and the StreamLog's bytes. Errors are answered in Aion's shape
by :func:`aion.server.errors.native_error`.

Record data on the wire is either ``data`` (any JSON value, stored as its compact JSON bytes)
or ``data_base64`` (raw bytes, standard base64). Reads return ``data`` when the stored bytes
are JSON and ``data_base64`` otherwise (``encoding: "auto"``), or always ``data_base64``
(``encoding: "base64"``, byte-exact).
"""

from __future__ import annotations

import base64
import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

import msgspec

from aion.core.jsonbody import InvalidJson, JsonTooDeep, decode_json
from aion.core.sharding import HASH_KEY_SPACE
from aion.core.time import TICKS_PER_SECOND, to_kronos_time
from aion.errors import ValidationError
from aion.server.errors import TooLarge
from aion.streams.protocol import (
    MAX_PARTITION_KEY_LENGTH,
    MAX_RECORD_BYTES,
    MAX_TIMESTAMP,
    AppendRecord,
    Lease,
    PositionKind,
    ShardDescription,
    StoredRecord,
    StreamDescription,
)

__all__ = [
    "MAX_WAIT_SECONDS",
    "CheckpointBody",
    "CreateStreamBody",
    "DataEncoding",
    "IteratorBody",
    "LeaseBody",
    "MemberBody",
    "PutRecordsBody",
    "ReadBody",
    "RecordIn",
    "RecordTooLarge",
    "description_json",
    "lease_json",
    "parse_body",
    "parse_shard",
    "parse_timestamp",
    "record_json",
    "shard_json",
    "to_append",
]

MAX_WAIT_SECONDS = 20.0
"""The longest a read may long-poll, so proxies and clients never see a silent connection."""

S = TypeVar("S")
_FIELD = re.compile(r"at `\$\.?([^`]*)`")
_MISSING = re.compile(r"missing required field `([^`]*)`")
# ASCII digits only: \d and int() also take other scripts' digits (Arabic-Indic, ...).
_SHARD_ID = re.compile(r"^(?:shardId-)?([0-9]{1,12})\Z")
_HASH_KEY = re.compile(r"^[0-9]{1,39}\Z")
_MAX_TIMESTAMP_SECONDS = Decimal(MAX_TIMESTAMP) / TICKS_PER_SECOND


class RecordTooLarge(TooLarge):
    """A record whose data and partition key exceed 1 MiB (answered with 413)."""


class DataEncoding(StrEnum):
    """How a read returns record data."""

    AUTO = "auto"
    BASE64 = "base64"


class CreateStreamBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /v1/streams``: a stream with ``shards`` shards, keeping records
    ``retention_seconds`` (null: forever)."""

    name: str
    shards: int = 1
    retention_seconds: int | None = None


class RecordIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One record to put: a partition key and exactly one of ``data`` (JSON) or
    ``data_base64`` (bytes). ``explicit_hash_key`` (decimal 128-bit integer) picks the shard
    instead of the MD5 of the key."""

    partition_key: str
    data: Any = msgspec.UNSET
    data_base64: str | None = None
    explicit_hash_key: str | None = None


class PutRecordsBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /v1/streams/{stream}/records``: up to 500 records, appended all or none."""

    records: list[RecordIn]


class IteratorBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /v1/streams/{stream}/shards/{shard}/iterator``: where to start reading.

    ``sequence`` (decimal string) for AT/AFTER_SEQUENCE_NUMBER; ``timestamp`` for AT_TIMESTAMP,
    as kronos time (int, 100 ns ticks) or a string (ISO-8601, epoch seconds, ``-10m``)."""

    type: PositionKind = PositionKind.LATEST
    sequence: str | None = None
    timestamp: int | str | None = None


class ReadBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /v1/streams/{stream}/read``: up to ``limit`` records from ``iterator``, waiting up
    to ``wait`` seconds (at most 20) for one when there is none yet."""

    iterator: str
    limit: int = 1000
    wait: float = 0.0
    encoding: DataEncoding = DataEncoding.AUTO


class CheckpointBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``PUT …/groups/{group}/checkpoints/{shard}``: the group processed the shard through
    ``sequence``; with ``expected``, only if the stored checkpoint equals it ("0": none)."""

    sequence: str
    expected: str | None = None


class LeaseBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``PUT …/groups/{group}/leases/{shard}``: take, renew (``owner``) or release (null) a
    shard's lease for ``ttl_seconds`` from the store's clock, if the stored lease still has
    ``expected_version`` (0: never leased)."""

    owner: str | None
    expected_version: int
    ttl_seconds: float = 30.0


class MemberBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST …/groups/{group}/members/{worker}/join`` (or ``/heartbeat``): hold the shards
    this worker gets for ``lease_seconds`` from the store's clock; heartbeat again well
    within it (the answer suggests a third)."""

    lease_seconds: float = 10.0


_ENVELOPES: dict[type[Any], int] = {PutRecordsBody: 3, RecordIn: 1}


def parse_body(raw: bytes, body_type: type[S]) -> S:
    """Decode a JSON body into ``body_type``; a refusal names the field at fault."""
    # A record's JSON data may nest as deep as an event; the body's wrapping around it is
    # {"records": [{"data": ...}]} (three levels) or {"data": ...} (one).
    envelope = _ENVELOPES.get(body_type, 0)
    try:
        return decode_json(raw, envelope=envelope, as_type=body_type)
    except JsonTooDeep:
        raise
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _FIELD.search(text)
        path = match.group(1) if match else ""
        missing = _MISSING.search(text)
        if missing:
            path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        raise ValidationError(text, path or "body") from exc
    except InvalidJson as exc:
        raise ValidationError("the request body must be a JSON object", "body") from exc


def parse_shard(text: str) -> int:
    """A shard in a path: its number (``3``) or its id (``shardId-000000000003``)."""
    match = _SHARD_ID.match(text)
    if match is None:
        raise ValidationError(f"{text!r} is not a shard number or shard id", "shard")
    return int(match.group(1))


def parse_timestamp(value: int | str) -> int:
    """An iterator's ``timestamp`` as kronos time: an int is kronos time already, a string is
    ISO-8601, epoch seconds or relative (``-10m``). It must fall between the Unix epoch and
    :data:`~aion.streams.protocol.MAX_TIMESTAMP` (2262-04-11)."""
    if isinstance(value, str):
        try:
            seconds = Decimal(value.strip())
        except InvalidOperation:
            seconds = None
        # Epoch seconds are checked before they become ticks: "1e999999" is a number too.
        if seconds is not None and not (
            seconds.is_finite() and 0 <= seconds <= _MAX_TIMESTAMP_SECONDS
        ):
            raise ValidationError(
                f"timestamp must be from 0 to {_MAX_TIMESTAMP_SECONDS} seconds since the epoch",
                "timestamp",
            )
    try:
        ticks = to_kronos_time(value)
    except (ValidationError, ArithmeticError) as exc:
        raise ValidationError(f"timestamp is not a time: {exc}", "timestamp") from exc
    if not 0 <= ticks <= MAX_TIMESTAMP:
        raise ValidationError(
            "timestamp must fall between the Unix epoch and 2262-04-11 "
            f"(kronos time 0 to {MAX_TIMESTAMP})",
            "timestamp",
        )
    return ticks


def _hash_key(text: str, where: str) -> int:
    if not _HASH_KEY.match(text) or int(text) >= HASH_KEY_SPACE:
        raise ValidationError(
            f"{where}explicit_hash_key must be a decimal integer from 0 to 2**128 - 1",
            f"{where}explicit_hash_key",
        )
    return int(text)


def to_append(record: RecordIn, index: int | None = None) -> AppendRecord:
    """The StreamLog record for a wire record; 413 beyond 1 MiB with the key."""
    where = "" if index is None else f"records[{index}]."
    key = record.partition_key
    if not 1 <= len(key) <= MAX_PARTITION_KEY_LENGTH:
        raise ValidationError(
            f"{where}partition_key must be 1 to {MAX_PARTITION_KEY_LENGTH} characters",
            f"{where}partition_key",
        )
    has_json = record.data is not msgspec.UNSET
    if has_json == (record.data_base64 is not None):
        raise ValidationError(
            f"{where}data or {where}data_base64 is required (exactly one)", f"{where}data"
        )
    if record.data_base64 is not None:
        try:
            # ValueError covers binascii.Error and the refusal of non-ASCII characters.
            data = base64.b64decode(record.data_base64, validate=True)
        except ValueError as exc:
            raise ValidationError(
                f"{where}data_base64 is not valid base64", f"{where}data_base64"
            ) from exc
    else:
        data = msgspec.json.encode(record.data)
    size = len(data) + len(key.encode("utf-8"))
    if size > MAX_RECORD_BYTES:
        raise RecordTooLarge(
            f"{where}data with its partition key is {size} bytes; the limit is "
            f"{MAX_RECORD_BYTES} (1 MiB)",
            f"{where}data",
        )
    hash_key = (
        None if record.explicit_hash_key is None else _hash_key(record.explicit_hash_key, where)
    )
    return AppendRecord(key, data, hash_key)


def shard_json(shard: ShardDescription) -> dict[str, Any]:
    """One shard as the API shows it (big numbers as decimal strings)."""
    return {
        "shard": shard.shard,
        "shard_id": shard.shard_id,
        "starting_hash_key": str(shard.starting_hash_key),
        "ending_hash_key": str(shard.ending_hash_key),
        "starting_sequence": str(shard.starting_sequence),
        "ending_sequence": str(shard.ending_sequence),
        "trimmed_through": str(shard.trimmed_through),
    }


def description_json(description: StreamDescription) -> dict[str, Any]:
    """A stream as the API shows it."""
    return {
        "namespace": description.namespace,
        "name": description.stream,
        "status": description.status.value,
        "retention_seconds": description.retention_seconds,
        "shards": [shard_json(s) for s in description.shards],
    }


def record_json(record: StoredRecord, encoding: DataEncoding) -> dict[str, Any]:
    """A read record; JSON data is embedded as is (no re-encoding)."""
    out: dict[str, Any] = {
        "sequence": str(record.sequence),
        "partition_key": record.partition_key,
        "arrival_time": record.arrival_time,
    }
    if encoding is DataEncoding.AUTO:
        try:
            msgspec.json.decode(record.data)
        except (msgspec.DecodeError, RecursionError):  # not JSON, or too deep to decode
            pass
        else:
            out["data"] = msgspec.Raw(record.data)
            return out
    out["data_base64"] = base64.b64encode(record.data).decode("ascii")
    return out


def lease_json(lease: Lease) -> dict[str, Any]:
    """A consumer-group lease (``expires_at`` on the store's clock; ``claimant``: a worker
    waiting for the shard, which the owner hands over at its next heartbeat)."""
    return {
        "shard": lease.shard,
        "shard_id": f"shardId-{lease.shard:012d}",
        "owner": lease.owner,
        "expires_at": lease.expires_at,
        "version": lease.version,
        "claimant": lease.claimant,
    }
