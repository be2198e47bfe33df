"""The native JSON streams API under ``/v1/streams``.

Streams with shards and retention; puts with partition keys (one or a batch, all or none; a
put to a stream that does not exist creates it with the server's ``default_stream_shards``);
reads through opaque shard iterators with long-poll; consumer-group checkpoints and leases
(compare-and-set), and group membership (join / heartbeat / leave) so remote workers share
shards by the same rules as in-process ones. Every route takes ``?namespace=`` (default: the
server's default namespace). Errors are ``{"error": {"type", "message", "field"}}`` with 400
(bad input), 404 (unknown stream or shard), 409 (a checkpoint or lease changed first), 413 (a
record over 1 MiB) or 503 (a backend is down). Native iterators do not expire: they are signed
positions.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from starlette.responses import Response

from aion.errors import AionError, ValidationError
from aion.server.errors import Conflict, native_error
from aion.server.ops.auth import request_namespace
from aion.server.streams.iterators import IteratorState, codec_for
from aion.server.streams.native_openapi import streams_operation, success_status
from aion.server.streams.native_shapes import (
    MAX_WAIT_SECONDS,
    CheckpointBody,
    CreateStreamBody,
    IteratorBody,
    LeaseBody,
    MemberBody,
    PutRecordsBody,
    ReadBody,
    RecordIn,
    description_json,
    lease_json,
    parse_body,
    parse_shard,
    parse_timestamp,
    record_json,
    to_append,
)
from aion.streams.groups.membership import heartbeat, leave, release
from aion.streams.protocol import (
    AppendRecord,
    Position,
    PositionKind,
    StreamLog,
    StreamNotFound,
    parse_sequence,
)
from aion.streams.rules import check_lease_version

__all__ = ["MAX_OWNER_LENGTH", "MAX_PUT_RECORDS", "CheckpointConflict", "LeaseConflict", "router"]

MAX_PUT_RECORDS = 500
"""A batch put takes at most 500 records (the Kinesis PutRecords limit)."""

MAX_OWNER_LENGTH = 256
"""A lease owner (a worker name) is 1 to 256 characters, as group and worker names are."""

JSON = "application/json"
_encode = msgspec.json.Encoder().encode
Handler = Callable[[Request], Awaitable[Response]]


class CheckpointConflict(Conflict):
    """Another worker moved the checkpoint since it was read (409)."""


class LeaseConflict(Conflict):
    """Another worker changed the lease first (409)."""


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(_encode(body), status_code=status, media_type=JSON)


def _guard(handler: Handler) -> Handler:
    """Answer every AionError in Aion's error shape, with the status of
    :mod:`aion.server.errors`."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except AionError as exc:
            return native_error(exc)

    endpoint.__name__ = f"streams_{handler.__name__}"
    endpoint.__doc__ = handler.__doc__
    return endpoint


def _log(request: Request) -> StreamLog:
    log: StreamLog = request.app.state.stream_log
    return log


def _stream(request: Request) -> str:
    stream: str = request.path_params["stream"]
    return stream


async def create_stream(request: Request) -> Response:
    """Create a stream (idempotent with the same shard count; 400 with another)."""
    body = parse_body(await request.body(), CreateStreamBody)
    description = await _log(request).create_stream(
        request_namespace(request), body.name, body.shards, body.retention_seconds
    )
    return _json(description_json(description), 201)


async def list_streams(request: Request) -> Response:
    """The namespace's stream names, sorted."""
    namespace = request_namespace(request)
    names = await _log(request).list_streams(namespace)
    return _json({"namespace": namespace, "streams": names})


async def describe_stream(request: Request) -> Response:
    """A stream's shards, hash-key ranges, sequence bounds and retention."""
    description = await _log(request).describe_stream(request_namespace(request), _stream(request))
    return _json(description_json(description))


async def delete_stream(request: Request) -> Response:
    """Delete a stream with its records, checkpoints and leases."""
    stream = _stream(request)
    await _log(request).delete_stream(request_namespace(request), stream)
    return _json({"deleted": stream})


async def trim_stream(request: Request) -> Response:
    """Drop the records older than the stream's retention now."""
    trimmed = await _log(request).trim(request_namespace(request), _stream(request))
    return _json({"trimmed": trimmed})


def _placed(shard: int, sequence: int) -> dict[str, Any]:
    return {"shard": shard, "shard_id": f"shardId-{shard:012d}", "sequence": str(sequence)}


async def _append(request: Request, records: list[AppendRecord]) -> list[tuple[int, int]]:
    """Append to the stream the path names; a stream that does not exist yet is created with
    the server's ``default_stream_shards`` (0: refused with StreamNotFound, as before)."""
    log, namespace, stream = _log(request), request_namespace(request), _stream(request)
    try:
        return await log.append(namespace, stream, records)
    except StreamNotFound:
        shards: int = request.app.state.config.default_stream_shards
        if shards < 1:
            raise
    try:
        await log.create_stream(namespace, stream, shards)
    except ValidationError as exc:
        # Another request created it first with another shard count: append to that one.
        if exc.field != "shards":
            raise
    return await log.append(namespace, stream, records)


async def put_record(request: Request) -> Response:
    """Append one record (creating the stream on its first put); answers its shard and
    sequence number."""
    record = to_append(parse_body(await request.body(), RecordIn))
    [(shard, sequence)] = await _append(request, [record])
    return _json(_placed(shard, sequence))


async def put_records(request: Request) -> Response:
    """Append up to 500 records, all or none (creating the stream on its first put); answers
    shard and sequence per record, in order."""
    body = parse_body(await request.body(), PutRecordsBody)
    if not 1 <= len(body.records) <= MAX_PUT_RECORDS:
        raise ValidationError(f"records must hold 1 to {MAX_PUT_RECORDS} records", "records")
    records = [to_append(r, i) for i, r in enumerate(body.records)]
    placed = await _append(request, records)
    return _json({"records": [_placed(shard, sequence) for shard, sequence in placed]})


def _position(body: IteratorBody) -> Position:
    if body.type in (PositionKind.AT_SEQUENCE_NUMBER, PositionKind.AFTER_SEQUENCE_NUMBER):
        if body.sequence is None:
            raise ValidationError(f"sequence is required for {body.type}", "sequence")
        return Position(body.type, parse_sequence(body.sequence, "sequence"))
    if body.type is PositionKind.AT_TIMESTAMP:
        if body.timestamp is None:
            raise ValidationError("timestamp is required for AT_TIMESTAMP", "timestamp")
        return Position.at_timestamp(parse_timestamp(body.timestamp))
    return Position(body.type)


async def get_iterator(request: Request) -> Response:
    """An iterator for one shard. LATEST is pinned now; a sequence number past the end or
    already trimmed is refused now."""
    body = parse_body(await request.body() or b"{}", IteratorBody)
    namespace, stream = request_namespace(request), _stream(request)
    shard = parse_shard(request.path_params["shard"])
    position = _position(body)
    # A one-record read validates stream, shard and sequence, and says where LATEST is.
    probe = await _log(request).read(namespace, stream, shard, position, limit=1)
    if position.kind is PositionKind.LATEST:
        position = probe.next_position
    now_ms = time.time_ns() // 1_000_000
    token = codec_for(request.app.state).encode(
        IteratorState(namespace, stream, shard, position, now_ms)
    )
    return _json({"iterator": token, "shard": shard, "shard_id": f"shardId-{shard:012d}"})


async def read_records(request: Request) -> Response:
    """Records from an iterator, waiting up to ``wait`` seconds when there are none yet."""
    body = parse_body(await request.body(), ReadBody)
    namespace, stream = request_namespace(request), _stream(request)
    if not 1 <= body.limit <= 10_000:
        raise ValidationError("limit must be from 1 to 10000", "limit")
    if not 0 <= body.wait <= MAX_WAIT_SECONDS:
        raise ValidationError(f"wait must be from 0 to {MAX_WAIT_SECONDS} seconds", "wait")
    codec = codec_for(request.app.state)
    now_ms = time.time_ns() // 1_000_000
    state = codec.decode(body.iterator, now_ms)
    if (state.namespace, state.stream) != (namespace, stream):
        raise ValidationError("the iterator belongs to another stream", "iterator")
    result = await _log(request).read(
        namespace, stream, state.shard, state.position, body.limit, body.wait
    )
    following = IteratorState(namespace, stream, state.shard, result.next_position, now_ms)
    return _json(
        {
            "shard": state.shard,
            "records": [record_json(r, body.encoding) for r in result.records],
            "next_iterator": codec.encode(following),
            "millis_behind_latest": result.millis_behind_latest,
        }
    )


def _group(request: Request) -> str:
    group: str = request.path_params["group"]
    if not group or len(group) > 256:
        raise ValidationError("a consumer group name is 1 to 256 characters", "group")
    return group


async def get_checkpoints(request: Request) -> Response:
    """The group's checkpoint per shard (shards without one are absent)."""
    checkpoints = await _log(request).get_checkpoints(
        request_namespace(request), _stream(request), _group(request)
    )
    return _json({"checkpoints": {str(k): str(v) for k, v in sorted(checkpoints.items())}})


async def set_checkpoint(request: Request) -> Response:
    """Record a checkpoint; with ``expected``, 409 when another worker moved it first."""
    body = parse_body(await request.body(), CheckpointBody)
    shard = parse_shard(request.path_params["shard"])
    sequence = parse_sequence(body.sequence, "sequence")
    expected = None if body.expected is None else parse_sequence(body.expected, "expected")
    stored = await _log(request).set_checkpoint(
        request_namespace(request), _stream(request), _group(request), shard, sequence, expected
    )
    if not stored:
        raise CheckpointConflict("the checkpoint changed since it was read", "expected")
    return _json({"shard": shard, "sequence": str(sequence)})


async def get_leases(request: Request) -> Response:
    """The group's leases (shards never leased are absent) and the store's kronos time now,
    so workers judge expiry by the store's clock, not their own."""
    leases = await _log(request).get_leases(
        request_namespace(request), _stream(request), _group(request)
    )
    return _json(
        {
            "leases": [lease_json(lease) for _, lease in sorted(leases.items())],
            "server_time": await _log(request).lease_time(
                request_namespace(request), _stream(request)
            ),
        }
    )


async def set_lease(request: Request) -> Response:
    """Compare-and-set a shard's lease; 409 when its version is no longer ``expected_version``."""
    body = parse_body(await request.body(), LeaseBody)
    shard = parse_shard(request.path_params["shard"])
    if not 0 < body.ttl_seconds <= 3600:
        raise ValidationError("ttl_seconds must be more than 0 and at most 3600", "ttl_seconds")
    check_lease_version(body.expected_version)
    if body.owner is not None and not 1 <= len(body.owner) <= MAX_OWNER_LENGTH:
        raise ValidationError(
            f"owner must be 1 to {MAX_OWNER_LENGTH} characters (or null)", "owner"
        )
    lease = await _log(request).set_lease(
        request_namespace(request),
        _stream(request),
        _group(request),
        shard,
        body.owner,
        body.ttl_seconds,
        body.expected_version,
    )
    if lease is None:
        raise LeaseConflict("another worker changed the lease first", "expected_version")
    return _json(lease_json(lease))


def _worker(request: Request) -> str:
    worker: str = request.path_params["worker"]
    return worker


async def _membership(request: Request) -> Response:
    body = parse_body(await request.body() or b"{}", MemberBody)
    log, namespace, stream, group = (
        _log(request),
        request_namespace(request),
        _stream(request),
        _group(request),
    )
    held = await heartbeat(log, namespace, stream, group, _worker(request), body.lease_seconds)
    # A remote worker heartbeats between batches, with everything it handled checkpointed,
    # so the shards it hands over are released at once.
    for lease in held.handing_over.values():
        await release(log, namespace, stream, group, held.worker, lease, body.lease_seconds)
    return _json(
        {
            "worker": held.worker,
            "shards": held.shards,
            "leases": [lease_json(lease) for _, lease in sorted(held.leases.items())],
            "lease_seconds": body.lease_seconds,
            "heartbeat_seconds": body.lease_seconds / 3,
            "server_time": held.now,
        }
    )


async def join_group(request: Request) -> Response:
    """Join a consumer group (the first heartbeat): answers the shards this worker owns now,
    taken by the group's fair-share rules, lease expiry on the store's clock."""
    return await _membership(request)


async def group_heartbeat(request: Request) -> Response:
    """Renew this worker's leases and rebalance (hand over shards above the fair share or
    claimed by another worker, take free or expired ones, claim one from the busiest worker);
    answers the shards it owns now. A shard missing from the answer was handed over or taken
    over: stop reading it."""
    return await _membership(request)


async def leave_group(request: Request) -> Response:
    """Release every shard this worker holds, so the others take them at their next
    heartbeat instead of waiting for the leases to expire."""
    worker = _worker(request)
    released = await leave(
        _log(request), request_namespace(request), _stream(request), _group(request), worker
    )
    return _json({"worker": worker, "released": released})


_ROUTES: list[tuple[str, str, Handler, type[Any] | None]] = [
    ("", "POST", create_stream, CreateStreamBody),
    ("", "GET", list_streams, None),
    ("/{stream}", "GET", describe_stream, None),
    ("/{stream}", "DELETE", delete_stream, None),
    ("/{stream}/trim", "POST", trim_stream, None),
    ("/{stream}/record", "POST", put_record, RecordIn),
    ("/{stream}/records", "POST", put_records, PutRecordsBody),
    ("/{stream}/shards/{shard}/iterator", "POST", get_iterator, IteratorBody),
    ("/{stream}/read", "POST", read_records, ReadBody),
    ("/{stream}/groups/{group}/checkpoints", "GET", get_checkpoints, None),
    ("/{stream}/groups/{group}/checkpoints/{shard}", "PUT", set_checkpoint, CheckpointBody),
    ("/{stream}/groups/{group}/leases", "GET", get_leases, None),
    ("/{stream}/groups/{group}/leases/{shard}", "PUT", set_lease, LeaseBody),
    ("/{stream}/groups/{group}/members/{worker}/join", "POST", join_group, MemberBody),
    ("/{stream}/groups/{group}/members/{worker}/heartbeat", "POST", group_heartbeat, MemberBody),
    ("/{stream}/groups/{group}/members/{worker}/leave", "POST", leave_group, None),
]


def router() -> APIRouter:
    """The native streams API; mount as is (the prefix ``/v1/streams`` is built in)."""
    api = APIRouter(prefix="/v1/streams", tags=["streams"])
    for path, method, handler, body_type in _ROUTES:
        api.add_api_route(
            path,
            _guard(handler),
            methods=[method],
            response_class=Response,
            status_code=success_status(method, path),  # documentation only: handlers answer
            summary=(handler.__doc__ or "").split("\n")[0],
            openapi_extra=streams_operation(method, path, body_type),
        )
    return api
