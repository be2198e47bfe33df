"""Pure translation between Kinesis JSON 1.1 shapes and the StreamLog's value types.

The names, types and limits follow botocore's service model for ``Kinesis_20131202``
(``botocore/data/kinesis/2013-12-02/service-2.json``). Nothing here does I/O; the routes in
:mod:`aion.server.streams.kinesis_api` call these functions around the StreamLog.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

import msgspec
from starlette.responses import Response

from aion.core.sharding import HASH_KEY_SPACE
from aion.core.time import TICKS_PER_SECOND
from aion.errors import AionError
from aion.server.errors import KINESIS_CONTENT_TYPE, kinesis_code, kinesis_error, status_of
from aion.server.streams.iterators import ExpiredIterator
from aion.streams.protocol import (
    MAX_PARTITION_KEY_LENGTH,
    MAX_RECORD_BYTES,
    MAX_TIMESTAMP,
    ShardDescription,
    ShardNotFound,
    StoredRecord,
    StreamDescription,
    StreamNotFound,
)

__all__ = [
    "ACCOUNT_ID",
    "CONTENT_TYPE",
    "FOREVER_HOURS",
    "HASH_KEY_PATTERN",
    "MAX_PUT_RECORDS",
    "MAX_PUT_RECORDS_BYTES",
    "MAX_STREAM_NAME_LENGTH",
    "TARGET_PREFIX",
    "KinesisError",
    "blob_value",
    "check_length",
    "decode_data",
    "description_shape",
    "epoch_to_kronos",
    "error_of",
    "format_shard_id",
    "invalid",
    "member_path",
    "optional_int",
    "optional_str",
    "page_token",
    "parse_explicit_hash_key",
    "parse_page_token",
    "parse_shard_id",
    "partition_key_of",
    "record_shape",
    "region_of",
    "require_str",
    "shard_shape",
    "stream_arn",
    "stream_name_of",
    "summary_shape",
    "validation_error",
]

TARGET_PREFIX = "Kinesis_20131202."
CONTENT_TYPE = KINESIS_CONTENT_TYPE
ACCOUNT_ID = "000000000000"
"""Aion has no AWS accounts; ARNs and messages show this placeholder."""

FOREVER_HOURS = 876_000
"""RetentionPeriodHours reported for a stream that keeps its records forever (100 years)."""

MAX_PUT_RECORDS = 500
MAX_PUT_RECORDS_BYTES = 5 * 1024 * 1024
"""PutRecords takes at most 500 records and 5 MiB of data and keys together (Kinesis)."""

MAX_STREAM_NAME_LENGTH = 128
"""A Kinesis stream name is 1 to 128 characters."""

HASH_KEY_PATTERN = "0|([1-9]\\d{0,38})"
"""The pattern of ``ExplicitHashKey`` in Kinesis's service model, as its messages show it."""

# ASCII only: \d, \w and int() also take other scripts' digits and letters.
_SHARD_ID = re.compile(r"^shardId-([0-9]{1,12})\Z")
_HASH_KEY = re.compile(r"^(0|[1-9][0-9]{0,38})\Z")
_ARN = re.compile(r"^arn:aws[\w-]*:kinesis:[\w-]*:[0-9]{12}:stream/(.+)\Z", re.ASCII)
_REGION = re.compile(r"Credential=[^/,\s]+/[0-9]{8}/([\w-]+)/kinesis/", re.ASCII)
_MAX_TIMESTAMP_SECONDS = MAX_TIMESTAMP / TICKS_PER_SECOND


class KinesisError(Exception):
    """An error answered in the Kinesis shape ``{"__type": code, "message": ...}``: a code of
    Kinesis's own (400), or an Aion error translated by :func:`error_of` (its status from
    :mod:`aion.server.errors`)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def response(self, headers: dict[str, str] | None = None) -> Response:
        """The answer botocore parses into ``ClientError``."""
        return kinesis_error(self.code, self.message, self.status, headers)


def invalid(message: str) -> KinesisError:
    """An ``InvalidArgumentException``."""
    return KinesisError("InvalidArgumentException", message)


def member_path(name: str) -> str:
    """The path AWS names a member by in a validation message: ``StreamName`` →
    ``streamName`` (a path like ``records.1.member.data`` stays as it is)."""
    return name[:1].lower() + name[1:]


def validation_error(value: str | None, where: str, constraint: str) -> KinesisError:
    """A ``ValidationException`` in AWS's own wording, which clients match on (async-kinesis
    shrinks its batch on "Member must have length less than or equal to 500"):
    ``1 validation error detected: Value 'v' at 'where' failed to satisfy constraint: Member
    must ...``; ``value`` None is shown as ``null``."""
    shown = "null" if value is None else f"'{value}'"
    return KinesisError(
        "ValidationException",
        f"1 validation error detected: Value {shown} at '{where}' failed to satisfy "
        f"constraint: Member {constraint}",
    )


def blob_value(size: int) -> str:
    """How AWS shows a data blob's value in a validation message."""
    return f"java.nio.HeapByteBuffer[pos=0 lim={size} cap={size}]"


def check_length(value: str, where: str, low: int, high: int, shown: str | None = None) -> None:
    """A ``ValidationException`` when ``value`` is not ``low`` to ``high`` characters long."""
    if len(value) < low:
        raise validation_error(
            value if shown is None else shown,
            where,
            f"must have length greater than or equal to {low}",
        )
    if len(value) > high:
        raise validation_error(
            value if shown is None else shown,
            where,
            f"must have length less than or equal to {high}",
        )


def error_of(exc: AionError, stream: str | None) -> KinesisError:
    """The Kinesis error for an Aion error raised by the StreamLog or the iterator codec: the
    code Kinesis uses for it, the status every family gives it."""
    status = status_of(exc)
    if isinstance(exc, StreamNotFound):
        message = f"Stream {stream} under account {ACCOUNT_ID} not found."
        return KinesisError("ResourceNotFoundException", message, status)
    if isinstance(exc, ExpiredIterator):
        return KinesisError("ExpiredIteratorException", str(exc), status)
    return KinesisError(kinesis_code(exc), str(exc), status)


def require_str(body: dict[str, Any], name: str) -> str:
    """A required string member, or a ``ValidationException`` naming it."""
    value = body.get(name)
    if value is None:
        raise validation_error(None, member_path(name), "must not be null")
    if not isinstance(value, str):
        raise KinesisError("SerializationException", f"{name} must be a string")
    return value


def optional_str(body: dict[str, Any], name: str) -> str | None:
    """An optional string member."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise KinesisError("SerializationException", f"{name} must be a string")
    return value


def optional_int(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    """An optional integer member within ``[low, high]``."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise KinesisError("SerializationException", f"{name} must be an integer")
    if value < low:
        raise validation_error(
            str(value), member_path(name), f"must have value greater than or equal to {low}"
        )
    if value > high:
        raise validation_error(
            str(value), member_path(name), f"must have value less than or equal to {high}"
        )
    return value


def stream_name_of(body: dict[str, Any]) -> str:
    """The stream a request names, by ``StreamName`` or by ``StreamARN``."""
    name = optional_str(body, "StreamName")
    if name is not None:
        check_length(name, "streamName", 1, MAX_STREAM_NAME_LENGTH)
        return name
    arn = optional_str(body, "StreamARN")
    if arn is not None:
        match = _ARN.match(arn)
        if match is None:
            raise invalid(f"StreamARN {arn!r} is not a Kinesis stream ARN")
        return match.group(1)
    raise invalid("Either StreamName or StreamARN should be provided.")


def region_of(authorization: str | None) -> str:
    """The region in a SigV4 ``Authorization`` header's credential scope (us-east-1 if none)."""
    match = _REGION.search(authorization or "")
    return match.group(1) if match else "us-east-1"


def stream_arn(region: str, stream: str) -> str:
    """The ARN Aion shows for a stream."""
    return f"arn:aws:kinesis:{region}:{ACCOUNT_ID}:stream/{stream}"


def format_shard_id(shard: int) -> str:
    """``3`` → ``shardId-000000000003``."""
    return f"shardId-{shard:012d}"


def parse_shard_id(text: str, stream: str) -> int:
    """``shardId-000000000003`` → ``3``; anything else names no shard of ``stream``."""
    match = _SHARD_ID.match(text)
    if match is None:
        raise ShardNotFound(
            f"Shard {text} in stream {stream} under account {ACCOUNT_ID} does not exist"
        )
    return int(match.group(1))


def partition_key_of(entry: dict[str, Any], where: str = "partitionKey") -> str:
    """A record's partition key: required, 1 to 256 characters."""
    key = entry.get("PartitionKey")
    if key is None:
        raise validation_error(None, where, "must not be null")
    if not isinstance(key, str):
        raise KinesisError("SerializationException", "PartitionKey must be a string")
    check_length(key, where, 1, MAX_PARTITION_KEY_LENGTH)
    return key


def decode_data(entry: dict[str, Any], key: str, where: str = "data") -> bytes:
    """A record's ``Data`` blob (base64 on the wire), at most 1 MiB with its key."""
    raw = entry.get("Data")
    if raw is None:
        raise validation_error(None, where, "must not be null")
    if not isinstance(raw, str):
        raise KinesisError("SerializationException", "Data must be a base64 string")
    try:
        # ValueError covers binascii.Error and the refusal of non-ASCII characters.
        data = base64.b64decode(raw, validate=True)
    except ValueError as exc:
        raise KinesisError("SerializationException", "Data is not valid base64") from exc
    # A record is at most 1 MiB with its partition key: the data may hold what the key leaves.
    room = MAX_RECORD_BYTES - len(key.encode("utf-8"))
    if len(data) > room:
        raise validation_error(
            blob_value(len(data)), where, f"must have length less than or equal to {room}"
        )
    return data


def parse_explicit_hash_key(entry: dict[str, Any], where: str = "explicitHashKey") -> int | None:
    """``ExplicitHashKey``, a decimal 128-bit integer that overrides the key's MD5."""
    raw = entry.get("ExplicitHashKey")
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise KinesisError("SerializationException", "ExplicitHashKey must be a string")
    if not _HASH_KEY.match(raw):
        raise validation_error(
            raw[:64] + "..." if len(raw) > 64 else raw,
            where,
            f"must satisfy regular expression pattern: {HASH_KEY_PATTERN}",
        )
    if int(raw) >= HASH_KEY_SPACE:
        raise invalid(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
            f"Specified value was {raw}"
        )
    return int(raw)


def epoch_to_kronos(value: Any, name: str = "Timestamp") -> int:
    """A JSON 1.1 timestamp (epoch seconds, as botocore sends it) in kronos ticks, from the
    Unix epoch to 2262-04-11 (what 64-bit nanoseconds hold)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid(f"{name} must be a number of seconds since the epoch")
    if not 0 <= value <= _MAX_TIMESTAMP_SECONDS:
        raise invalid(
            f"{name} {value} is out of range: it must be from 0 to {_MAX_TIMESTAMP_SECONDS:.0f} "
            "seconds since the epoch (1970-01-01 to 2262-04-11)"
        )
    return min(MAX_TIMESTAMP, round(value * TICKS_PER_SECOND))


def shard_shape(shard: ShardDescription) -> dict[str, Any]:
    """A ``Shard``: id, hash-key range and sequence range (open, so no ending number)."""
    return {
        "ShardId": format_shard_id(shard.shard),
        "HashKeyRange": {
            "StartingHashKey": str(shard.starting_hash_key),
            "EndingHashKey": str(shard.ending_hash_key),
        },
        "SequenceNumberRange": {"StartingSequenceNumber": str(shard.starting_sequence)},
    }


def _retention_hours(description: StreamDescription) -> int:
    if description.retention_seconds is None:
        return FOREVER_HOURS
    return max(1, math.ceil(description.retention_seconds / 3600))


def _common(description: StreamDescription, region: str) -> dict[str, Any]:
    return {
        "StreamName": description.stream,
        "StreamARN": stream_arn(region, description.stream),
        "StreamStatus": description.status.value,
        "StreamModeDetails": {"StreamMode": "PROVISIONED"},
        "RetentionPeriodHours": _retention_hours(description),
        # The StreamLog does not record creation times; the epoch marks "unknown".
        "StreamCreationTimestamp": 0,
        "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
        "EncryptionType": "NONE",
    }


def description_shape(
    description: StreamDescription, region: str, shards: list[ShardDescription], more: bool
) -> dict[str, Any]:
    """``DescribeStreamOutput`` with one page of shards."""
    out = _common(description, region)
    out["Shards"] = [shard_shape(s) for s in shards]
    out["HasMoreShards"] = more
    return {"StreamDescription": out}


def summary_shape(description: StreamDescription, region: str) -> dict[str, Any]:
    """``DescribeStreamSummaryOutput``."""
    out = _common(description, region)
    out["OpenShardCount"] = len(description.shards)
    out["ConsumerCount"] = 0
    return {"StreamDescriptionSummary": out}


def record_shape(record: StoredRecord) -> dict[str, Any]:
    """A ``Record`` of ``GetRecordsOutput``."""
    return {
        "SequenceNumber": str(record.sequence),
        "ApproximateArrivalTimestamp": record.arrival_time / TICKS_PER_SECOND,
        "Data": base64.b64encode(record.data).decode("ascii"),
        "PartitionKey": record.partition_key,
    }


def page_token(stream: str, after: int) -> str:
    """A ``NextToken`` for ListShards: the stream and the last shard number listed."""
    return base64.urlsafe_b64encode(msgspec.json.encode([stream, after])).decode("ascii")


def parse_page_token(token: str) -> tuple[str, int]:
    """The stream and last shard number inside a ListShards ``NextToken``."""
    try:
        stream, after = msgspec.json.decode(
            base64.urlsafe_b64decode(token.encode("ascii")), type=tuple[str, int]
        )
    except (binascii.Error, ValueError, UnicodeEncodeError, msgspec.ValidationError) as exc:
        raise invalid("NextToken is not one this server issued") from exc
    return stream, after
