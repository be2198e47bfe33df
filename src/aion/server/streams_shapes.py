"""Request bodies and response shapes of the native streams API (``/v1/streams``).

Pure: msgspec Structs for the bodies (their JSON Schema goes into OpenAPI), conversion of
records between their wire form and the StreamLog's bytes, and Aion's error shape
``{"error": {"type": ..., "message": ..., "field": ...}}``.

Record data on the wire is either ``data`` (any JSON value, stored as its compact JSON bytes)
or ``data_base64`` (raw bytes, standard base64). Reads return ``data`` when the stored bytes
are JSON and ``data_base64`` otherwise (``encoding: "auto"``), or always ``data_base64``
(``encoding: "base64"``, byte-exact).
"""

from __future__ import annotations

import base64
import binascii
import re
from enum import StrEnum
from typing import Any, TypeVar

import msgspec

from aion.core.streamlog import (
    MAX_RECORD_BYTES,
    AppendRecord,
    Lease,
    PositionKind,
    ShardDescription,
    StoredRecord,
    StreamDescription,
)
from aion.errors import ValidationError

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
    "error_json",
    "lease_json",
    "parse_body",
    "parse_shard",
    "record_json",
    "shard_json",
    "to_append",
]

MAX_WAIT_SECONDS = 20.0
"""The longest a read may long-poll, so proxies and clients never see a silent connection."""

S = TypeVar("S")
_FIELD = re.compile(r"at `\$\.?([^`]*)`")
_MISSING = re.compile(r"missing required field `([^`]*)`")
_SHARD_ID = re.compile(r"^(?:shardId-)?(\d{1,12})$")


class RecordTooLarge(ValidationError):
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
    shard's lease for ``ttl_seconds`` from the server's clock, if the stored lease still has
    ``expected_version`` (0: never leased)."""

    owner: str | None
    expected_version: int
    ttl_seconds: float = 30.0


class MemberBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST …/groups/{group}/members/{worker}/join`` (or ``/heartbeat``): hold the shards
    this worker gets for ``lease_seconds`` from the server's clock; heartbeat again well
    within it (the answer suggests a third)."""

    lease_seconds: float = 10.0


def parse_body(raw: bytes, body_type: type[S]) -> S:
    """Decode a JSON body into ``body_type``; a refusal names the field at fault."""
    try:
        return msgspec.json.decode(raw, type=body_type)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _FIELD.search(text)
        path = match.group(1) if match else ""
        missing = _MISSING.search(text)
        if missing:
            path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        raise ValidationError(text, path or "body") from exc
    except msgspec.DecodeError as exc:
        raise ValidationError("the request body must be a JSON object", "body") from exc


def parse_shard(text: str) -> int:
    """A shard in a path: its number (``3``) or its id (``shardId-000000000003``)."""
    match = _SHARD_ID.match(text)
    if match is None:
        raise ValidationError(f"{text!r} is not a shard number or shard id", "shard")
    return int(match.group(1))


def to_append(record: RecordIn, index: int | None = None) -> AppendRecord:
    """The StreamLog record for a wire record; 413 beyond 1 MiB with the key."""
    where = "" if index is None else f"records[{index}]."
    has_json = record.data is not msgspec.UNSET
    if has_json == (record.data_base64 is not None):
        raise ValidationError(
            f"{where}data or {where}data_base64 is required (exactly one)", f"{where}data"
        )
    if record.data_base64 is not None:
        try:
            data = base64.b64decode(record.data_base64, validate=True)
        except binascii.Error as exc:
            raise ValidationError(
                f"{where}data_base64 is not valid base64", f"{where}data_base64"
            ) from exc
    else:
        data = msgspec.json.encode(record.data)
    size = len(data) + len(record.partition_key.encode("utf-8"))
    if size > MAX_RECORD_BYTES:
        raise RecordTooLarge(
            f"{where}data with its partition key is {size} bytes; the limit is "
            f"{MAX_RECORD_BYTES} (1 MiB)",
            f"{where}data",
        )
    hash_key: int | None = None
    if record.explicit_hash_key is not None:
        text = record.explicit_hash_key
        if not text.isascii() or not text.isdigit():
            raise ValidationError(
                f"{where}explicit_hash_key must be a decimal integer", f"{where}explicit_hash_key"
            )
        hash_key = int(text)
    return AppendRecord(record.partition_key, data, hash_key)


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
        except msgspec.DecodeError:
            pass
        else:
            out["data"] = msgspec.Raw(record.data)
            return out
    out["data_base64"] = base64.b64encode(record.data).decode("ascii")
    return out


def lease_json(lease: Lease) -> dict[str, Any]:
    """A consumer-group lease."""
    return {
        "shard": lease.shard,
        "shard_id": f"shardId-{lease.shard:012d}",
        "owner": lease.owner,
        "expires_at": lease.expires_at,
        "version": lease.version,
    }


def error_json(kind: str, message: str, field: str | None) -> dict[str, Any]:
    """Aion's error shape."""
    return {"error": {"type": kind, "message": message, "field": field}}
