"""The requests of the native streams API (``/v1/streams``) and the reading of their answers,
without I/O.

:class:`StreamCalls` builds each request as a :class:`~aion.client.http.Call` (method, path,
body, how to parse the answer, what a 409 means); :func:`streams_error` turns the server's
error into Aion's typed exception. The sync and async clients only send.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from aion.client.http import Call, HttpSettings, native_error
from aion.client.streams_types import (
    GroupMembership,
    LeaseInfo,
    OutgoingRecord,
    Placement,
    ReadBatch,
    ShardInfo,
    StreamInfo,
    StreamRecord,
)
from aion.errors import (
    AionError,
    NotFound,
    ResponseError,
    SequencePastEnd,
    SequenceTrimmed,
    ShardNotFound,
    StreamNotFound,
    ValidationError,
)
from aion.streams.protocol import PositionKind

__all__ = ["StreamCalls", "streams_error"]

T = TypeVar("T")

_NOT_FOUND: dict[str, type[NotFound]] = {
    "StreamNotFound": StreamNotFound,
    "ShardNotFound": ShardNotFound,
}
_INVALID: dict[str, type[ValidationError]] = {
    "SequencePastEnd": SequencePastEnd,
    "SequenceTrimmed": SequenceTrimmed,
}


def streams_error(error: ResponseError) -> AionError:
    """The exception the streams API's error stands for: the type the server names, else
    ``NotFound`` for a 404 and ``ValidationError`` (with ``field``) for a 400 or 413; any
    other answer stays a ``ResponseError``."""
    native = native_error(error.body)
    if native is None:
        return error
    kind, message, field = native
    if kind in _NOT_FOUND:
        return _NOT_FOUND[kind](message)
    if kind in _INVALID:
        return _INVALID[kind](message, field)
    if error.status == 404:
        return NotFound(message)
    if error.status in (400, 413):
        return ValidationError(message, field)
    return error


def _shard_info(raw: dict[str, Any]) -> ShardInfo:
    return ShardInfo(
        raw["shard"],
        raw["shard_id"],
        int(raw["starting_hash_key"]),
        int(raw["ending_hash_key"]),
        int(raw["starting_sequence"]),
        int(raw["ending_sequence"]),
    )


def _stream_info(raw: dict[str, Any]) -> StreamInfo:
    return StreamInfo(
        raw["namespace"],
        raw["name"],
        [_shard_info(s) for s in raw["shards"]],
        raw["retention_seconds"],
    )


def _placement(raw: dict[str, Any]) -> Placement:
    return Placement(raw["shard"], raw["shard_id"], int(raw["sequence"]))


def _batch(raw: dict[str, Any]) -> ReadBatch:
    shard = raw["shard"]
    return ReadBatch(
        [
            StreamRecord(
                shard,
                int(r["sequence"]),
                r["partition_key"],
                r["arrival_time"],
                base64.b64decode(r["data_base64"]),
            )
            for r in raw["records"]
        ],
        raw["next_iterator"],
        raw["millis_behind_latest"],
    )


def _lease(raw: dict[str, Any]) -> LeaseInfo:
    return LeaseInfo(
        raw["shard"], raw["owner"], raw["expires_at"], raw["version"], raw.get("claimant")
    )


def _membership(raw: dict[str, Any]) -> GroupMembership:
    return GroupMembership(
        raw["worker"],
        list(raw["shards"]),
        [_lease(x) for x in raw["leases"]],
        float(raw["lease_seconds"]),
        float(raw["heartbeat_seconds"]),
        int(raw["server_time"]),
    )


def _worker_path(worker: str) -> str:
    # The server decodes %2F before routing, so a "/" cannot travel in the path segment.
    if "/" in worker:
        raise ValidationError("a worker name cannot contain '/'", "worker")
    return quote(worker, safe="")


def _wire(record: OutgoingRecord | tuple[str, bytes]) -> dict[str, Any]:
    if isinstance(record, tuple):
        record = OutgoingRecord(*record)
    out: dict[str, Any] = {
        "partition_key": record.partition_key,
        "data_base64": base64.b64encode(record.data).decode("ascii"),
    }
    if record.explicit_hash_key is not None:
        out["explicit_hash_key"] = str(record.explicit_hash_key)
    return out


class StreamCalls:
    """The requests of the streams API, in the settings' namespace."""

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        namespace = settings.namespace
        self._params = {"namespace": namespace} if namespace else None

    def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        body: Any = None,
        *,
        timeout: float | None = None,
        conflict: Callable[[], T] | None = None,
    ) -> Call[T]:
        return Call(
            method, "/v1/streams" + path, parse, body, self._params, timeout, conflict,
            errors=streams_error,
        )  # fmt: skip

    def create(self, name: str, shards: int, retention_seconds: int | None) -> Call[StreamInfo]:
        body = {"name": name, "shards": shards, "retention_seconds": retention_seconds}
        return self._call("POST", "", _stream_info, body)

    def describe(self, stream: str) -> Call[StreamInfo]:
        return self._call("GET", f"/{stream}", _stream_info)

    def list_streams(self) -> Call[list[str]]:
        return self._call("GET", "", lambda raw: list(raw["streams"]))

    def delete(self, stream: str) -> Call[None]:
        return self._call("DELETE", f"/{stream}", lambda raw: None)

    def put_many(
        self, stream: str, records: Sequence[OutgoingRecord | tuple[str, bytes]]
    ) -> Call[list[Placement]]:
        body = {"records": [_wire(r) for r in records]}
        return self._call(
            "POST", f"/{stream}/records", lambda raw: [_placement(p) for p in raw["records"]], body
        )

    def iterator(
        self,
        stream: str,
        shard: int | str,
        kind: PositionKind | str,
        sequence: int | None,
        timestamp: int | str | None,
    ) -> Call[str]:
        body: dict[str, Any] = {"type": str(PositionKind(kind))}
        if sequence is not None:
            body["sequence"] = str(sequence)
        if timestamp is not None:
            body["timestamp"] = timestamp
        return self._call(
            "POST", f"/{stream}/shards/{shard}/iterator", lambda r: r["iterator"], body
        )

    def read(self, stream: str, iterator: str, limit: int, wait: float) -> Call[ReadBatch]:
        body = {"iterator": iterator, "limit": limit, "wait": wait, "encoding": "base64"}
        # The HTTP timeout must outlast the server-side long-poll.
        return self._call("POST", f"/{stream}/read", _batch, body, timeout=wait + 30)

    def checkpoints(self, stream: str, group: str) -> Call[dict[int, int]]:
        return self._call(
            "GET",
            f"/{stream}/groups/{group}/checkpoints",
            lambda raw: {int(k): int(v) for k, v in raw["checkpoints"].items()},
        )

    def set_checkpoint(
        self, stream: str, group: str, shard: int, sequence: int, expected: int | None
    ) -> Call[bool]:
        body: dict[str, Any] = {"sequence": str(sequence)}
        if expected is not None:
            body["expected"] = str(expected)
        return self._call(
            "PUT",
            f"/{stream}/groups/{group}/checkpoints/{shard}",
            lambda raw: True,
            body,
            conflict=lambda: False,
        )

    def leases(self, stream: str, group: str) -> Call[tuple[list[LeaseInfo], int]]:
        return self._call(
            "GET",
            f"/{stream}/groups/{group}/leases",
            lambda raw: ([_lease(x) for x in raw["leases"]], raw["server_time"]),
        )

    def set_lease(
        self,
        stream: str,
        group: str,
        shard: int,
        owner: str | None,
        expected_version: int,
        ttl_seconds: float,
    ) -> Call[LeaseInfo | None]:
        body = {"owner": owner, "expected_version": expected_version, "ttl_seconds": ttl_seconds}
        return self._call(
            "PUT",
            f"/{stream}/groups/{group}/leases/{shard}",
            _lease,
            body,
            conflict=lambda: None,
        )

    def heartbeat(
        self, stream: str, group: str, worker: str, lease_seconds: float, join: bool
    ) -> Call[GroupMembership]:
        action = "join" if join else "heartbeat"
        path = f"/{stream}/groups/{group}/members/{_worker_path(worker)}/{action}"
        return self._call("POST", path, _membership, {"lease_seconds": lease_seconds})

    def leave(self, stream: str, group: str, worker: str) -> Call[list[int]]:
        path = f"/{stream}/groups/{group}/members/{_worker_path(worker)}/leave"
        return self._call("POST", path, lambda raw: list(raw["released"]))
