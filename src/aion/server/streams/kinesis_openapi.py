"""The Kinesis API in OpenAPI: one operation per ``X-Amz-Target``.

Every Kinesis call is ``POST /`` and the operation is named by the ``X-Amz-Target`` header,
while OpenAPI allows one operation per path and method. Each target is therefore documented
under its own pseudo-path ``/#X-Amz-Target=Kinesis_20131202.<Operation>``: the part after
``#`` is a URL fragment, which no client ever sends, so a request built from the pseudo-path
is exactly ``POST /``. Each such operation requires ``X-Amz-Target`` with that one value, and
has its own input and output shapes (the members Aion reads and answers, with botocore's
names, types and limits). ``POST /`` itself stays documented as the dispatcher, with its
errors for a missing or unknown target.

Pure data; :mod:`aion.server.openapi` adds the paths to the document.
"""

from __future__ import annotations

from typing import Any

from aion.server.openapi_shapes import KINESIS_ERROR, error_response, json_content
from aion.server.streams.kinesis_shapes import CONTENT_TYPE, MAX_PUT_RECORDS, TARGET_PREFIX
from aion.streams.protocol import MAX_PARTITION_KEY_LENGTH, PositionKind

__all__ = ["KINESIS_PATH_PREFIX", "KINESIS_TAG", "kinesis_paths", "pseudo_path"]

KINESIS_PATH_PREFIX = "/#X-Amz-Target="
KINESIS_TAG = "kinesis"

_STR = {"type": "string"}
_STREAM_NAME = {"type": "string", "minLength": 1, "maxLength": 128}
_STREAM_ARN = {"type": "string", "minLength": 1, "maxLength": 2048}
_SHARD_ID = {
    "type": "string",
    "minLength": 1,
    "maxLength": 128,
    "examples": ["shardId-000000000000"],
}
_SEQUENCE = {"type": "string", "pattern": "^(0|[1-9]\\d{0,128})$"}
_HASH_KEY = {"type": "string", "pattern": "^(0|[1-9]\\d{0,38})$"}
_PARTITION_KEY = {"type": "string", "minLength": 1, "maxLength": MAX_PARTITION_KEY_LENGTH}
_DATA = {"type": "string", "contentEncoding": "base64", "description": "the record, base64"}
_TIMESTAMP = {"type": "number", "description": "seconds since the epoch"}


def _limit(high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": high}


def _input(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _output(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required or properties)}


_NAMED = {"StreamName": _STREAM_NAME, "StreamARN": _STREAM_ARN}
_SHARD = _output(
    {
        "ShardId": _STR,
        "HashKeyRange": _output({"StartingHashKey": _STR, "EndingHashKey": _STR}),
        "SequenceNumberRange": _output({"StartingSequenceNumber": _STR}),
    }
)
_MODE = _output({"StreamMode": {"type": "string", "enum": ["PROVISIONED", "ON_DEMAND"]}})
_COMMON = {
    "StreamName": _STR,
    "StreamARN": _STR,
    "StreamStatus": {"type": "string", "enum": ["CREATING", "DELETING", "ACTIVE", "UPDATING"]},
    "StreamModeDetails": _MODE,
    "RetentionPeriodHours": {"type": "integer"},
    "StreamCreationTimestamp": {"type": "number"},
    "EnhancedMonitoring": {"type": "array", "items": {"type": "object"}},
    "EncryptionType": {"type": "string"},
}
_PLACED = {"ShardId": _STR, "SequenceNumber": _STR}
_PUT_RESULT = {
    "type": "object",
    "description": "A stored record (ShardId, SequenceNumber) or a failed one (ErrorCode, "
    "ErrorMessage).",
    "properties": {**_PLACED, "ErrorCode": _STR, "ErrorMessage": _STR},
}
_RECORD = _output(
    {
        "SequenceNumber": _STR,
        "ApproximateArrivalTimestamp": {"type": "number"},
        "Data": _DATA,
        "PartitionKey": _STR,
    }
)

_OPERATIONS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "CreateStream": (
        "Create a stream (4 shards without ShardCount); ResourceInUseException when the name "
        "is taken.",
        _input(
            {
                "StreamName": _STREAM_NAME,
                "ShardCount": _limit(10_000),
                "StreamModeDetails": {"type": "object"},
            },
            "StreamName",
        ),
        {"type": "object"},
    ),
    "DeleteStream": (
        "Delete a stream with its records, checkpoints and leases.",
        _input({**_NAMED, "EnforceConsumerDeletion": {"type": "boolean"}}),
        {"type": "object"},
    ),
    "DescribeStream": (
        "A stream and one page of its shards.",
        _input({**_NAMED, "Limit": _limit(10_000), "ExclusiveStartShardId": _SHARD_ID}),
        _output(
            {
                "StreamDescription": _output(
                    {
                        **_COMMON,
                        "Shards": {"type": "array", "items": _SHARD},
                        "HasMoreShards": {"type": "boolean"},
                    }
                )
            }
        ),
    ),
    "DescribeStreamSummary": (
        "A stream without its shards.",
        _input(dict(_NAMED)),
        _output(
            {
                "StreamDescriptionSummary": _output(
                    {**_COMMON, "OpenShardCount": {"type": "integer"}, "ConsumerCount": {}}
                )
            }
        ),
    ),
    "ListStreams": (
        "The stream names, paged by Limit and ExclusiveStartStreamName or NextToken.",
        _input({"Limit": _limit(10_000), "ExclusiveStartStreamName": _STR, "NextToken": _STR}),
        _output(
            {
                "StreamNames": {"type": "array", "items": _STR},
                "HasMoreStreams": {"type": "boolean"},
                "StreamSummaries": {"type": "array", "items": {"type": "object"}},
                "NextToken": _STR,
            },
            "StreamNames",
            "HasMoreStreams",
            "StreamSummaries",
        ),
    ),
    "ListShards": (
        "A stream's shards, paged by MaxResults and NextToken.",
        _input(
            {
                **_NAMED,
                "NextToken": _STR,
                "ExclusiveStartShardId": _SHARD_ID,
                "MaxResults": _limit(10_000),
                "StreamCreationTimestamp": _TIMESTAMP,
                "ShardFilter": _input(
                    {
                        "Type": {
                            "type": "string",
                            "enum": [
                                "AFTER_SHARD_ID",
                                "AT_TRIM_HORIZON",
                                "FROM_TRIM_HORIZON",
                                "AT_LATEST",
                                "AT_TIMESTAMP",
                                "FROM_TIMESTAMP",
                            ],
                        },
                        "ShardId": _SHARD_ID,
                        "Timestamp": _TIMESTAMP,
                    },
                    "Type",
                ),
            }
        ),
        _output({"Shards": {"type": "array", "items": _SHARD}, "NextToken": _STR}, "Shards"),
    ),
    "PutRecord": (
        "Append one record, routed by the MD5 of its partition key or by ExplicitHashKey.",
        _input(
            {
                **_NAMED,
                "Data": _DATA,
                "PartitionKey": _PARTITION_KEY,
                "ExplicitHashKey": _HASH_KEY,
                "SequenceNumberForOrdering": _SEQUENCE,
            },
            "Data",
            "PartitionKey",
        ),
        _output({**_PLACED, "EncryptionType": _STR}),
    ),
    "PutRecords": (
        f"Append up to {MAX_PUT_RECORDS} records (5 MiB with their keys), all or none.",
        _input(
            {
                **_NAMED,
                "Records": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_PUT_RECORDS,
                    "items": _input(
                        {
                            "Data": _DATA,
                            "PartitionKey": _PARTITION_KEY,
                            "ExplicitHashKey": _HASH_KEY,
                        },
                        "Data",
                        "PartitionKey",
                    ),
                },
            },
            "Records",
        ),
        _output(
            {
                "FailedRecordCount": {"type": "integer"},
                "Records": {"type": "array", "items": _PUT_RESULT},
                "EncryptionType": _STR,
            },
            "FailedRecordCount",
            "Records",
        ),
    ),
    "GetShardIterator": (
        "An iterator for one shard; LATEST is pinned now.",
        _input(
            {
                **_NAMED,
                "ShardId": _SHARD_ID,
                "ShardIteratorType": {"type": "string", "enum": [k.value for k in PositionKind]},
                "StartingSequenceNumber": _SEQUENCE,
                "Timestamp": _TIMESTAMP,
            },
            "ShardId",
            "ShardIteratorType",
        ),
        _output({"ShardIterator": _STR}),
    ),
    "GetRecords": (
        "Up to Limit records from an iterator, and the next iterator (shards never close).",
        _input(
            {
                "ShardIterator": {"type": "string", "minLength": 1, "maxLength": 512},
                "Limit": _limit(10_000),
                "StreamARN": _STREAM_ARN,
            },
            "ShardIterator",
        ),
        _output(
            {
                "Records": {"type": "array", "items": _RECORD},
                "NextShardIterator": _STR,
                "MillisBehindLatest": {"type": "integer"},
            }
        ),
    ),
}


def pseudo_path(operation: str) -> str:
    """The pseudo-path documenting one target: ``/#X-Amz-Target=Kinesis_20131202.<op>``."""
    return f"{KINESIS_PATH_PREFIX}{TARGET_PREFIX}{operation}"


def _operation(name: str, summary: str, request: dict[str, Any], answer: dict[str, Any]) -> Any:
    target = TARGET_PREFIX + name
    return {
        "tags": [KINESIS_TAG],
        "summary": f"Kinesis {name}",
        "description": f"{summary}\n\nSent as `POST /` with `X-Amz-Target: {target}` (the "
        "path's `#...` part is a fragment and never leaves the client).",
        "operationId": f"kinesis_{name}",
        "parameters": [
            {
                "name": "X-Amz-Target",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "const": target},
            }
        ],
        "requestBody": {"required": True, "content": json_content(request, CONTENT_TYPE)},
        "responses": {
            "200": {
                "description": f"The {name} output.",
                "content": json_content(answer, CONTENT_TYPE),
            },
            "400": error_response(
                "A Kinesis client error (ValidationException, InvalidArgumentException, ...).",
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
                "InternalFailureException: a backend is down.",
                KINESIS_ERROR,
                media_type=CONTENT_TYPE,
            ),
        },
    }


def kinesis_paths(operations: list[str]) -> dict[str, dict[str, Any]]:
    """The pseudo-path items of the supported ``operations`` (``OPERATIONS``' keys)."""
    unknown = sorted(set(operations) - set(_OPERATIONS))
    if unknown:
        raise ValueError(f"no OpenAPI description for Kinesis operations {unknown}")
    return {pseudo_path(op): {"post": _operation(op, *_OPERATIONS[op])} for op in operations}
