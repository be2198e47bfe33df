"""The sync client of the native streams API: :class:`StreamsClient`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import httpx

from aion.client.streams_calls import DEFAULT_URL, Call, Calls, ClientBase, answer
from aion.client.streams_types import (
    GroupMembership,
    LeaseInfo,
    OutgoingRecord,
    Placement,
    ReadBatch,
    StreamInfo,
)
from aion.core.streamlog import PositionKind
from aion.errors import RequestError

__all__ = ["StreamsClient"]

T = TypeVar("T")


class StreamsClient(ClientBase):
    """Sync client of the native streams API. Pass ``transport`` to test without a server."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        namespace: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(url, namespace, timeout)
        self._http = httpx.Client(transport=transport)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> StreamsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: Call[T]) -> T:
        try:
            response = self._http.request(**self._request(call))
        except httpx.HTTPError as exc:
            raise RequestError(f"cannot reach {self.url}: {exc}") from exc
        return answer(call, response)

    def create_stream(
        self, name: str, shards: int = 1, retention_seconds: int | None = None
    ) -> StreamInfo:
        """Create a stream (idempotent with the same shard count)."""
        return self._send(Calls.create(name, shards, retention_seconds))

    def describe_stream(self, stream: str) -> StreamInfo:
        """A stream's shards and retention."""
        return self._send(Calls.describe(stream))

    def list_streams(self) -> list[str]:
        """The namespace's stream names."""
        return self._send(Calls.list_streams())

    def delete_stream(self, stream: str) -> None:
        """Delete a stream and everything it holds."""
        self._send(Calls.delete(stream))

    def put(
        self, stream: str, partition_key: str, data: bytes, explicit_hash_key: int | None = None
    ) -> Placement:
        """Append one record."""
        [placed] = self.put_many(stream, [OutgoingRecord(partition_key, data, explicit_hash_key)])
        return placed

    def put_many(
        self, stream: str, records: Sequence[OutgoingRecord | tuple[str, bytes]]
    ) -> list[Placement]:
        """Append up to 500 records, all or none; placements in input order."""
        return self._send(Calls.put_many(stream, records))

    def iterator(
        self,
        stream: str,
        shard: int | str,
        kind: PositionKind | str = PositionKind.LATEST,
        sequence: int | None = None,
        timestamp: int | str | None = None,
    ) -> str:
        """An iterator for one shard (by number or id) at a position."""
        return self._send(Calls.iterator(stream, shard, kind, sequence, timestamp))

    def read(self, stream: str, iterator: str, limit: int = 1000, wait: float = 0.0) -> ReadBatch:
        """Up to ``limit`` records from ``iterator``, long-polling up to ``wait`` seconds."""
        return self._send(Calls.read(stream, iterator, limit, wait))

    def get_checkpoints(self, stream: str, group: str) -> dict[int, int]:
        """The group's checkpoint per shard."""
        return self._send(Calls.checkpoints(stream, group))

    def set_checkpoint(
        self, stream: str, group: str, shard: int, sequence: int, expected: int | None = None
    ) -> bool:
        """Store a checkpoint; False when ``expected`` no longer matches."""
        return self._send(Calls.set_checkpoint(stream, group, shard, sequence, expected))

    def get_leases(self, stream: str, group: str) -> tuple[list[LeaseInfo], int]:
        """The group's leases and the server's kronos time."""
        return self._send(Calls.leases(stream, group))

    def set_lease(
        self,
        stream: str,
        group: str,
        shard: int,
        owner: str | None,
        expected_version: int,
        ttl_seconds: float = 30.0,
    ) -> LeaseInfo | None:
        """Compare-and-set a lease; None when another worker changed it first."""
        return self._send(
            Calls.set_lease(stream, group, shard, owner, expected_version, ttl_seconds)
        )

    def join_group(
        self, stream: str, group: str, worker: str, lease_seconds: float = 10.0
    ) -> GroupMembership:
        """Join a consumer group as ``worker``: the shards it owns now, by the group's
        fair-share rules (heartbeat every ``heartbeat_seconds`` to keep them)."""
        return self._send(Calls.heartbeat(stream, group, worker, lease_seconds, join=True))

    def heartbeat(
        self, stream: str, group: str, worker: str, lease_seconds: float = 10.0
    ) -> GroupMembership:
        """Renew and rebalance; a shard missing from the answer was taken over."""
        return self._send(Calls.heartbeat(stream, group, worker, lease_seconds, join=False))

    def leave_group(self, stream: str, group: str, worker: str) -> list[int]:
        """Release every shard ``worker`` holds; answers the shards released."""
        return self._send(Calls.leave(stream, group, worker))
