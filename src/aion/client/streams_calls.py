"""The requests of the native streams API and the reading of their answers, without I/O.

:class:`Calls` builds each request as a :class:`Call` (method, path, body, how to parse the
answer, what a 409 means); :func:`answer` turns a response into a value or Aion's exception;
:class:`ClientBase` holds what the sync and async clients share. The two clients only send.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

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
from aion.core.streamlog import (
    PositionKind,
    SequencePastEnd,
    SequenceTrimmed,
    ShardNotFound,
    StreamNotFound,
)
from aion.errors import NotFound, ResponseError, ValidationError

__all__ = ["DEFAULT_URL", "Call", "Calls", "ClientBase", "answer"]

DEFAULT_URL = "http://127.0.0.1:8151"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request and how to read its answer; ``conflict`` is what a 409 means."""

    method: str
    path: str
    parse: Callable[[Any], T]
    body: dict[str, Any] | None = None
    timeout: float | None = None
    conflict: Callable[[], T] | None = None


_ERRORS: dict[str, type[ValidationError] | type[NotFound]] = {
    "StreamNotFound": StreamNotFound,
    "ShardNotFound": ShardNotFound,
    "SequencePastEnd": SequencePastEnd,
    "SequenceTrimmed": SequenceTrimmed,
}


def _raise_for(response: httpx.Response) -> None:
    try:
        error = response.json()["error"]
        kind, message, field = str(error["type"]), str(error["message"]), error.get("field")
    except (ValueError, KeyError, TypeError):
        raise ResponseError(
            f"the server answered {response.status_code}: {response.text[:200]}",
            response.status_code,
            response.text,
        ) from None
    known = _ERRORS.get(kind)
    if known is not None and issubclass(known, NotFound):
        raise known(message)
    if known is not None:
        raise known(message, field)
    if response.status_code == 404:
        raise NotFound(message)
    if response.status_code in (400, 413):
        raise ValidationError(message, field)
    raise ResponseError(message, response.status_code, error)


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
    return LeaseInfo(raw["shard"], raw["owner"], raw["expires_at"], raw["version"])


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


class Calls:
    """The requests of the streams API, without I/O."""

    @staticmethod
    def create(name: str, shards: int, retention_seconds: int | None) -> Call[StreamInfo]:
        body = {"name": name, "shards": shards, "retention_seconds": retention_seconds}
        return Call("POST", "", _stream_info, body)

    @staticmethod
    def describe(stream: str) -> Call[StreamInfo]:
        return Call("GET", f"/{stream}", _stream_info)

    @staticmethod
    def list_streams() -> Call[list[str]]:
        return Call("GET", "", lambda raw: list(raw["streams"]))

    @staticmethod
    def delete(stream: str) -> Call[None]:
        return Call("DELETE", f"/{stream}", lambda raw: None)

    @staticmethod
    def put_many(
        stream: str, records: Sequence[OutgoingRecord | tuple[str, bytes]]
    ) -> Call[list[Placement]]:
        body = {"records": [_wire(r) for r in records]}
        return Call(
            "POST", f"/{stream}/records", lambda raw: [_placement(p) for p in raw["records"]], body
        )

    @staticmethod
    def iterator(
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
        return Call("POST", f"/{stream}/shards/{shard}/iterator", lambda r: r["iterator"], body)

    @staticmethod
    def read(stream: str, iterator: str, limit: int, wait: float) -> Call[ReadBatch]:
        body = {"iterator": iterator, "limit": limit, "wait": wait, "encoding": "base64"}
        # The HTTP timeout must outlast the server-side long-poll.
        return Call("POST", f"/{stream}/read", _batch, body, timeout=wait + 30)

    @staticmethod
    def checkpoints(stream: str, group: str) -> Call[dict[int, int]]:
        return Call(
            "GET",
            f"/{stream}/groups/{group}/checkpoints",
            lambda raw: {int(k): int(v) for k, v in raw["checkpoints"].items()},
        )

    @staticmethod
    def set_checkpoint(
        stream: str, group: str, shard: int, sequence: int, expected: int | None
    ) -> Call[bool]:
        body: dict[str, Any] = {"sequence": str(sequence)}
        if expected is not None:
            body["expected"] = str(expected)
        return Call(
            "PUT",
            f"/{stream}/groups/{group}/checkpoints/{shard}",
            lambda raw: True,
            body,
            conflict=lambda: False,
        )

    @staticmethod
    def leases(stream: str, group: str) -> Call[tuple[list[LeaseInfo], int]]:
        return Call(
            "GET",
            f"/{stream}/groups/{group}/leases",
            lambda raw: ([_lease(x) for x in raw["leases"]], raw["server_time"]),
        )

    @staticmethod
    def set_lease(
        stream: str,
        group: str,
        shard: int,
        owner: str | None,
        expected_version: int,
        ttl_seconds: float,
    ) -> Call[LeaseInfo | None]:
        body = {"owner": owner, "expected_version": expected_version, "ttl_seconds": ttl_seconds}
        return Call(
            "PUT",
            f"/{stream}/groups/{group}/leases/{shard}",
            _lease,
            body,
            conflict=lambda: None,
        )

    @staticmethod
    def heartbeat(
        stream: str, group: str, worker: str, lease_seconds: float, join: bool
    ) -> Call[GroupMembership]:
        action = "join" if join else "heartbeat"
        path = f"/{stream}/groups/{group}/members/{_worker_path(worker)}/{action}"
        return Call("POST", path, _membership, {"lease_seconds": lease_seconds})

    @staticmethod
    def leave(stream: str, group: str, worker: str) -> Call[list[int]]:
        path = f"/{stream}/groups/{group}/members/{_worker_path(worker)}/leave"
        return Call("POST", path, lambda raw: list(raw["released"]))


def answer(call: Call[T], response: httpx.Response) -> T:
    if response.status_code == 409 and call.conflict is not None:
        return call.conflict()
    if response.status_code >= 400:
        _raise_for(response)
    return call.parse(response.json())


class ClientBase:
    """What both clients share: the base URL, namespace and default timeout."""

    def __init__(self, url: str, namespace: str | None, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.namespace = namespace
        self.timeout = timeout

    def _params(self) -> dict[str, str]:
        return {"namespace": self.namespace} if self.namespace else {}

    def _request(self, call: Call[Any]) -> dict[str, Any]:
        return {
            "method": call.method,
            "url": f"{self.url}/v1/streams{call.path}",
            "params": self._params(),
            "json": call.body,
            "timeout": call.timeout or self.timeout,
        }
