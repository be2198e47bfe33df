"""A Kinesis-compatible subset at the server root, so boto3 works with only ``endpoint_url``.

``POST /`` with ``X-Amz-Target: Kinesis_20131202.<Operation>`` and a JSON 1.1 body. The
operations: CreateStream, DeleteStream, DescribeStream, DescribeStreamSummary, ListStreams,
ListShards, PutRecord, PutRecords, GetShardIterator and GetRecords. Kinesis streams are the
StreamLog streams of the default namespace. SigV4 signatures are not checked (any credentials
pass); the region in the credential scope only shows up in ARNs.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from aion.core.jsonbody import decode_json
from aion.errors import AionError, BackendUnavailable, ValidationError
from aion.server.openapi_shapes import KINESIS_ERROR, error_response
from aion.server.ops.auth import request_target
from aion.server.streams.iterators import (
    KINESIS_ITERATOR_TTL_MS,
    IteratorCodec,
    IteratorState,
    codec_for,
)
from aion.server.streams.kinesis_shapes import (
    CONTENT_TYPE,
    MAX_PUT_RECORDS,
    MAX_PUT_RECORDS_BYTES,
    MAX_STREAM_NAME_LENGTH,
    TARGET_PREFIX,
    KinesisError,
    check_length,
    decode_data,
    description_shape,
    epoch_to_kronos,
    error_of,
    format_shard_id,
    invalid,
    optional_int,
    optional_str,
    page_token,
    parse_explicit_hash_key,
    parse_page_token,
    parse_shard_id,
    partition_key_of,
    record_shape,
    region_of,
    require_str,
    stream_arn,
    stream_name_of,
    summary_shape,
    validation_error,
)
from aion.streams.protocol import (
    MAX_SEQUENCE,
    AppendRecord,
    Position,
    PositionKind,
    StreamLog,
    StreamNotFound,
)

__all__ = ["DEFAULT_RETENTION_SECONDS", "DEFAULT_SHARD_COUNT", "OPERATIONS", "router"]

log = logging.getLogger(__name__)

DEFAULT_RETENTION_SECONDS = 24 * 3600
"""Streams created through CreateStream keep records 24 hours, the Kinesis default."""

DEFAULT_SHARD_COUNT = 4
"""CreateStream without ShardCount (on-demand mode) starts with 4 shards, as Kinesis does."""

_SEQUENCE_PATTERN = "^(0|[1-9]\\d{0,128})$"
_SEQUENCE = re.compile(r"^(0|[1-9][0-9]{0,128})\Z")  # the pattern, ASCII digits only


@dataclass(slots=True)
class _Call:
    """One request's context; ``stream`` is filled in once known, for error messages."""

    log: StreamLog
    namespace: str
    region: str
    codec: IteratorCodec
    now_ms: int
    stream: str | None = None


Handler = Callable[[_Call, dict[str, Any]], Awaitable[dict[str, Any]]]


def _stream(call: _Call, body: dict[str, Any]) -> str:
    call.stream = stream_name_of(body)
    return call.stream


async def create_stream(call: _Call, body: dict[str, Any]) -> dict[str, Any]:
    """CreateStream: refused with ResourceInUseException when the name is taken."""
    name = call.stream = require_str(body, "StreamName")
    check_length(name, "streamName", 1, MAX_STREAM_NAME_LENGTH)
    shards = optional_int(body, "ShardCount", 1, 10_000) or DEFAULT_SHARD_COUNT
    try:
        await call.log.describe_stream(call.namespace, name)
    except StreamNotFound:
        pass
    else:
        raise KinesisError(
            "ResourceInUseException", f"Stream {name} under account 000000000000 already exists."
        )
    await call.log.create_stream(call.namespace, name, shards, DEFAULT_RETENTION_SECONDS)
    return {}


async def delete_stream(call: _Call, body: dict[str, Any]) -> dict[str, Any]:
    """DeleteStream: the records, checkpoints and leases go with it."""
    await call.log.delete_stream(call.namespace, _stream(call, body))
    return {}


async def describe_stream(call: _Call, body: dict[str, Any]) -> dict[str, Any]:
    """DescribeStream, paged by ``Limit`` and ``ExclusiveStartShardId``."""
    name = _stream(call, body)
    limit = optional_int(body, "Limit", 1, 10_000) or 100
    start = optional_str(body, "ExclusiveStartShardId")
    description = await call.log.describe_stream(call.namespace, name)
    after = -1 if start is None else parse_shard_id(start, name)
    rest = [s for s in description.shards if s.shard > after]
    return description_shape(description, call.region, rest[:limit], len(rest) > limit)


async def describe_stream_summary(call: _Call, body: dict[str, Any]) -> dict[str, Any]:
    """DescribeStreamSummary."""
    description = await call.log.describe_stream(call.namespace, _stream(call, body))
    return summary_shape(description, call.region)


async def list_streams(call: _Call, body: dict[str, Any]) -> dict[str, Any]:
    """ListStreams, paged by ``Limit`` and ``ExclusiveStartStreamName`` or ``NextToken``."""
    limit = optional_int(body, "Limit", 1, 10_000) or 100
    start = optional_str(body, "NextToken") or optional_str(body, "ExclusiveStartStreamName")
    names = [n for n in await call.log.list_streams(call.namespace) if start is None or n > start]
    page = names[:limit]
    out: dict[str, Any] = {
        "StreamNames": page,
        "HasMoreStreams": len(names) > limit,
        "StreamSummaries": [
            {
                "StreamName": n,
                "StreamARN": stream_arn(call.region, n),
                "StreamStatus": "ACTIVE",
                "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            }
            for n in page
        ],
    }
    if len(names) > limit:
        out["NextToken"] = page[-1]
    return out


async def list_shards(call: _Call, body: dict[str, Any]) -> dict[str, Any]:
    """ListShards, paged by ``MaxResults`` and ``NextToken``; every shard is open, so the
    ``ShardFilter`` types other than AFTER_SHARD_ID list them all."""
    token = optional_str(body, "NextToken")
    if token is not None:
        if "StreamName" in body or "StreamARN" in body:
            raise invalid("NextToken and StreamName cannot be provided together.")
        name, after = parse_page_token(token)
        call.stream = name
    else:
        name = _stream(call, body)
        start = optional_str(body, "ExclusiveStartShardId")
        after = -1 if start is None else parse_shard_id(start, name)
        shard_filter = body.get("ShardFilter")
        if isinstance(shard_filter, dict) and shard_filter.get("Type") == "AFTER_SHARD_ID":
            after = max(after, parse_shard_id(require_str(shard_filter, "ShardId"), name))
    limit = optional_int(body, "MaxResults", 1, 10_000) or 1000
    description = await call.log.describe_stream(call.namespace, name)
    rest = [s for s in description.shards if s.shard > after]
    page = rest[:limit]
    shape = description_shape(description, call.region, page, False)["StreamDescription"]
    out: dict[str, Any] = {"Shards": shape["Shards"]}
    if len(rest) > limit:
        out["NextToken"] = page_token(name, page[-1].shard)
    return out


async def put_record(call: _Call, body: dict[str, Any]) -> dict[str, Any]:
    """PutRecord: one record, routed by the MD5 of its key or by ExplicitHashKey."""
    name = _stream(call, body)
    key = partition_key_of(body)
    record = AppendRecord(key, decode_data(body, key), parse_explicit_hash_key(body))
    [(shard, sequence)] = await call.log.append(call.namespace, name, [record])
    return {
        "ShardId": format_shard_id(shard),
        "SequenceNumber": str(sequence),
        "EncryptionType": "NONE",
    }


async def put_records(call: _Call, body: dict[str, Any]) -> dict[str, Any]:
    """PutRecords: up to 500 records appended together. The StreamLog appends all or none,
    so an outage fails every record (ErrorCode InternalFailure) and callers retry them."""
    name = _stream(call, body)
    entries = body.get("Records")
    if entries is None:
        raise validation_error(None, "records", "must not be null")
    if not isinstance(entries, list):
        raise KinesisError("SerializationException", "Records must be a list")
    if not entries:
        raise validation_error("[]", "records", "must have length greater than or equal to 1")
    if len(entries) > MAX_PUT_RECORDS:
        raise validation_error(
            f"[{len(entries)} PutRecordsRequestEntry]",
            "records",
            f"must have length less than or equal to {MAX_PUT_RECORDS}",
        )
    records: list[AppendRecord] = []
    total = 0
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise KinesisError("SerializationException", f"Records[{i}] must be an object")
        key = partition_key_of(entry, f"records.{i + 1}.member.partitionKey")
        data = decode_data(entry, key, f"records.{i + 1}.member.data")
        total += len(data) + len(key.encode("utf-8"))
        hash_key = parse_explicit_hash_key(entry, f"records.{i + 1}.member.explicitHashKey")
        records.append(AppendRecord(key, data, hash_key))
    if total > MAX_PUT_RECORDS_BYTES:
        raise invalid(f"Records size exceeds {MAX_PUT_RECORDS_BYTES // (1024 * 1024)} MB limit")
    try:
        placed = await call.log.append(call.namespace, name, records)
    except BackendUnavailable as exc:
        log.warning("PutRecords to %s failed: %s", name, exc)
        failed = {"ErrorCode": "InternalFailure", "ErrorMessage": str(exc)}
        return {"FailedRecordCount": len(records), "Records": [failed] * len(records)}
    return {
        "FailedRecordCount": 0,
        "Records": [
            {"ShardId": format_shard_id(shard), "SequenceNumber": str(sequence)}
            for shard, sequence in placed
        ],
        "EncryptionType": "NONE",
    }


def _sequence(body: dict[str, Any]) -> int:
    raw = body.get("StartingSequenceNumber")
    if raw is None:
        raise invalid("StartingSequenceNumber is required for this ShardIteratorType")
    if not isinstance(raw, str) or _SEQUENCE.match(raw) is None:
        shown = raw[:64] + "..." if isinstance(raw, str) and len(raw) > 64 else raw
        raise validation_error(
            str(shown),
            "startingSequenceNumber",
            f"must satisfy regular expression pattern: {_SEQUENCE_PATTERN}",
        )
    sequence = int(raw)
    if sequence > MAX_SEQUENCE:
        raise invalid(
            f"StartingSequenceNumber {raw} is out of range: Aion's sequence numbers run "
            f"from 0 to {MAX_SEQUENCE}"
        )
    return sequence


def _position(body: dict[str, Any]) -> Position:
    kind = require_str(body, "ShardIteratorType")
    try:
        parsed = PositionKind(kind)
    except ValueError as exc:
        kinds = ", ".join(k.value for k in PositionKind)
        raise validation_error(
            kind, "shardIteratorType", f"must satisfy enum value set: [{kinds}]"
        ) from exc
    if parsed in (PositionKind.AT_SEQUENCE_NUMBER, PositionKind.AFTER_SEQUENCE_NUMBER):
        return Position(parsed, _sequence(body))
    if parsed is PositionKind.AT_TIMESTAMP:
        if body.get("Timestamp") is None:
            raise invalid("Timestamp is required for ShardIteratorType AT_TIMESTAMP")
        return Position.at_timestamp(epoch_to_kronos(body["Timestamp"]))
    return Position(parsed)


async def get_shard_iterator(call: _Call, body: dict[str, Any]) -> dict[str, Any]:
    """GetShardIterator. LATEST is pinned now (records put afterwards are read); a sequence
    number past the end or already trimmed is refused now, not at GetRecords."""
    name = _stream(call, body)
    shard = parse_shard_id(require_str(body, "ShardId"), name)
    position = _position(body)
    # A one-record read checks the stream, the shard and the sequence number, and tells
    # where LATEST is; nothing is returned to the caller from it.
    probe = await call.log.read(call.namespace, name, shard, position, limit=1)
    if position.kind is PositionKind.LATEST:
        position = probe.next_position
    state = IteratorState(call.namespace, name, shard, position, call.now_ms)
    return {"ShardIterator": call.codec.encode(state)}


async def get_records(call: _Call, body: dict[str, Any]) -> dict[str, Any]:
    """GetRecords: up to ``Limit`` records and the next iterator (shards never close)."""
    token = require_str(body, "ShardIterator")
    limit = optional_int(body, "Limit", 1, 10_000) or 10_000
    state = call.codec.decode(token, call.now_ms, KINESIS_ITERATOR_TTL_MS)
    if state.namespace != call.namespace:
        raise invalid("the shard iterator belongs to another namespace")
    call.stream = state.stream
    result = await call.log.read(state.namespace, state.stream, state.shard, state.position, limit)
    following = IteratorState(
        state.namespace, state.stream, state.shard, result.next_position, call.now_ms
    )
    return {
        "Records": [record_shape(r) for r in result.records],
        "NextShardIterator": call.codec.encode(following),
        "MillisBehindLatest": result.millis_behind_latest,
    }


OPERATIONS: dict[str, Handler] = {
    "CreateStream": create_stream,
    "DeleteStream": delete_stream,
    "DescribeStream": describe_stream,
    "DescribeStreamSummary": describe_stream_summary,
    "ListStreams": list_streams,
    "ListShards": list_shards,
    "PutRecord": put_record,
    "PutRecords": put_records,
    "GetShardIterator": get_shard_iterator,
    "GetRecords": get_records,
}
"""The supported operations by their ``X-Amz-Target`` suffix."""


def _request_id() -> dict[str, str]:
    return {"x-amzn-RequestId": str(uuid.uuid4())}


async def _dispatch(request: Request) -> dict[str, Any]:
    # The operation and namespace the key check decided on: never a second reading of the
    # headers, which could take another copy of a repeated X-Amz-Target.
    target = request_target(request.scope)
    handler = OPERATIONS.get(target.operation) if target.operation is not None else None
    if handler is None or target.namespace is None:
        named = request.headers.get("x-amz-target", "")[:200]
        raise KinesisError("UnknownOperationException", f"Operation {named!r} is not supported")
    try:
        body = decode_json(await request.body() or b"{}")
    except ValidationError as exc:
        raise KinesisError("SerializationException", str(exc)) from exc
    if not isinstance(body, dict):
        raise KinesisError("SerializationException", "the request body must be a JSON object")
    state = request.app.state
    call = _Call(
        state.stream_log,
        target.namespace,
        region_of(request.headers.get("authorization")),
        codec_for(state),
        time.time_ns() // 1_000_000,
    )
    try:
        return await handler(call, body)
    except AionError as exc:
        raise error_of(exc, call.stream) from exc


async def kinesis(request: Request) -> Response:
    """Kinesis JSON 1.1: the operation comes from ``X-Amz-Target``."""
    try:
        out = await _dispatch(request)
    except KinesisError as exc:
        return exc.response(_request_id())
    except ClientDisconnect:
        raise  # the client went away: logged as one line, not as a failure
    except Exception:
        log.exception("Kinesis request failed")
        return KinesisError("InternalFailureException", "internal error", 500).response(
            _request_id()
        )
    return Response(msgspec.json.encode(out), media_type=CONTENT_TYPE, headers=_request_id())


_OPENAPI: dict[str, Any] = {
    "description": "The dispatcher: every Kinesis call is this request, and `X-Amz-Target` "
    "names the operation. Each operation's own input and output are documented under "
    "its pseudo-path `/#X-Amz-Target=Kinesis_20131202.<Operation>`.",
    "parameters": [
        {
            "name": "X-Amz-Target",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "enum": [TARGET_PREFIX + op for op in OPERATIONS]},
            "description": "The Kinesis operation; a missing or unknown one is answered with "
            "400 UnknownOperationException.",
        }
    ],
    "requestBody": {
        "required": False,
        "description": "The operation's input shape (an empty body reads as `{}`).",
        "content": {CONTENT_TYPE: {"schema": {"type": "object"}}},
    },
    "responses": {
        "200": {
            "description": "The operation's output shape.",
            "content": {CONTENT_TYPE: {"schema": {"type": "object"}}},
        },
        "400": error_response(
            "A Kinesis client error: UnknownOperationException, SerializationException, "
            "ValidationException, InvalidArgumentException, ...",
            KINESIS_ERROR,
            media_type=CONTENT_TYPE,
        ),
        "404": error_response(
            "ResourceNotFoundException: no such stream or shard.",
            KINESIS_ERROR,
            media_type=CONTENT_TYPE,
        ),
        "500": error_response(
            "InternalFailureException: an unexpected failure.",
            KINESIS_ERROR,
            media_type=CONTENT_TYPE,
        ),
        "503": error_response(
            "InternalFailureException: a backend is down.", KINESIS_ERROR, media_type=CONTENT_TYPE
        ),
    },
}


def router() -> APIRouter:
    """The Kinesis-compatible API; mount at the server root."""
    api = APIRouter(tags=["kinesis"])
    api.add_api_route(
        "/",
        kinesis,
        methods=["POST"],
        response_class=Response,
        summary="Kinesis_20131202 operations (JSON 1.1)",
        openapi_extra=_OPENAPI,
    )
    return api
