"""The sync client of the native streams API: :class:`StreamsClient`."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from aion.client.http import DEFAULT_TIMEOUT, DEFAULT_URL, HttpSettings
from aion.client.streams_calls import StreamCalls
from aion.client.streams_types import (
    GroupMembership,
    LeaseInfo,
    OutgoingRecord,
    Placement,
    ReadBatch,
    StreamInfo,
)
from aion.client.transport import SyncTransport
from aion.streams.protocol import PositionKind

__all__ = ["StreamsClient"]


class StreamsClient:
    """Sync client of the native streams API, in one ``namespace`` (None: the server's
    default). ``api_key`` is sent as a bearer token (a server with keys answers 401 without
    one). Pass ``transport`` to test without a server."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        namespace: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = HttpSettings(url, namespace, timeout, api_key)
        self._calls = StreamCalls(self.settings)
        self._http = SyncTransport(self.settings, transport)

    @property
    def url(self) -> str:
        return self.settings.url

    @property
    def namespace(self) -> str | None:
        return self.settings.namespace

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> StreamsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create_stream(
        self, name: str, shards: int = 1, retention_seconds: int | None = None
    ) -> StreamInfo:
        """Create a stream (idempotent with the same shard count)."""
        return self._http.send(self._calls.create(name, shards, retention_seconds))

    def describe_stream(self, stream: str) -> StreamInfo:
        """A stream's shards and retention."""
        return self._http.send(self._calls.describe(stream))

    def list_streams(self) -> list[str]:
        """The namespace's stream names."""
        return self._http.send(self._calls.list_streams())

    def delete_stream(self, stream: str) -> None:
        """Delete a stream and everything it holds."""
        self._http.send(self._calls.delete(stream))

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
        return self._http.send(self._calls.put_many(stream, records))

    def iterator(
        self,
        stream: str,
        shard: int | str,
        kind: PositionKind | str = PositionKind.LATEST,
        sequence: int | None = None,
        timestamp: int | str | None = None,
    ) -> str:
        """An iterator for one shard (by number or id) at a position."""
        return self._http.send(self._calls.iterator(stream, shard, kind, sequence, timestamp))

    def read(self, stream: str, iterator: str, limit: int = 1000, wait: float = 0.0) -> ReadBatch:
        """Up to ``limit`` records from ``iterator``, long-polling up to ``wait`` seconds."""
        return self._http.send(self._calls.read(stream, iterator, limit, wait))

    def get_checkpoints(self, stream: str, group: str) -> dict[int, int]:
        """The group's checkpoint per shard."""
        return self._http.send(self._calls.checkpoints(stream, group))

    def set_checkpoint(
        self, stream: str, group: str, shard: int, sequence: int, expected: int | None = None
    ) -> bool:
        """Store a checkpoint; False when ``expected`` no longer matches."""
        return self._http.send(self._calls.set_checkpoint(stream, group, shard, sequence, expected))

    def get_leases(self, stream: str, group: str) -> tuple[list[LeaseInfo], int]:
        """The group's leases and the server's kronos time."""
        return self._http.send(self._calls.leases(stream, group))

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
        return self._http.send(
            self._calls.set_lease(stream, group, shard, owner, expected_version, ttl_seconds)
        )

    def join_group(
        self, stream: str, group: str, worker: str, lease_seconds: float = 10.0
    ) -> GroupMembership:
        """Join a consumer group as ``worker``: the shards it owns now, by the group's
        fair-share rules (heartbeat every ``heartbeat_seconds`` to keep them)."""
        return self._http.send(
            self._calls.heartbeat(stream, group, worker, lease_seconds, join=True)
        )

    def heartbeat(
        self, stream: str, group: str, worker: str, lease_seconds: float = 10.0
    ) -> GroupMembership:
        """Renew and rebalance; a shard missing from the answer was taken over."""
        return self._http.send(
            self._calls.heartbeat(stream, group, worker, lease_seconds, join=False)
        )

    def leave_group(self, stream: str, group: str, worker: str) -> list[int]:
        """Release every shard ``worker`` holds; answers the shards released."""
        return self._http.send(self._calls.leave(stream, group, worker))
