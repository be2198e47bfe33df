"""The NATS JetStream StreamLog (nats-py): one JetStream stream per Aion stream, one subject
per shard, ``<stream>.<incarnation>.<shard>``: each making of a stream has a fresh incarnation
id, so a server publishing to a stream another server deleted (or made again, perhaps with
another shard count) reaches no JetStream stream and has nothing stored; it then looks the
stream up again and publishes once more. Reads compare the incarnation in the stream's info.

Sequence numbers are JetStream stream sequences: they increase per shard (the stream's
sequence is shared by its subjects, so a shard's numbers have gaps). The record's bytes are
the message payload; its partition key travels in the ``Aion-Key`` header (percent-encoded,
since headers are text lines). Retention is the stream's ``max_age``: JetStream expires records
by itself, so ``trim`` has nothing to do. The trim mark is the stream's first sequence minus
one, shared by all shards (JetStream does not keep a per-subject one).

Appends publish asynchronously and then wait for every acknowledgement. JetStream has no
multi-message transaction: if the server fails mid-batch some records may be stored and the
call raises BackendUnavailable; a retry may then store those twice (at-least-once).

Reads use ephemeral pull consumers (no acks, filtered to the shard's subject) kept per shard
while the reader goes on from where the last read ended, so sequential reads cost one fetch.
Each fetch carries the read's byte budget (see :mod:`aion.streams.backends.nats_pull`); a message
fetched past it waits on the consumer for the next read.
Checkpoints and leases live in a key-value bucket per stream, with compare-and-set on the
bucket's revisions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit

import nats
import nats.errors
import nats.js.errors
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from aion.core.time import datetime_to_kronos_time, kronos_time_to_datetime
from aion.errors import BackendUnavailable
from aion.streams.backends.nats_pull import PullConsumer
from aion.streams.protocol import (
    MAX_READ_BYTES,
    AppendRecord,
    Lease,
    Position,
    PositionKind,
    ReadResult,
    StoredRecord,
    StreamDescription,
    StreamNotFound,
    check_new_stream,
    check_records,
    shard_of,
    start_after,
)
from aion.streams.registry import url_options
from aion.streams.rules import (
    ReadBudget,
    StaleStream,
    StreamInfoCache,
    check_checkpoint,
    check_checkpoint_end,
    check_lease_version,
    check_limit,
    check_shard_count,
    checkpoint_matches,
    fresh_retry,
    lease_after_cas,
    lease_from_text,
    lease_text,
    new_incarnation,
    read_result,
    shard_bounds,
    stream_description,
    stream_not_found,
)

__all__ = ["NatsStreamLog"]

_KEY_HEADER = "Aion-Key"
_META_NS = "aion_namespace"
_META_STREAM = "aion_stream"
_META_SHARDS = "aion_shards"
_META_INCARNATION = "aion_incarnation"
_INACTIVE_SECONDS = 60.0
"""JetStream drops a read's consumer after this long without a pull request."""


@dataclass(frozen=True, slots=True)
class _Info:
    """A stream as a server caches it: its JetStream stream, shape and incarnation ('' for a
    stream made before incarnations were kept, whose subjects are ``<name>.<shard>``)."""

    name: str
    shards: int
    retention_seconds: int | None
    incarnation: str = ""

    @property
    def base(self) -> str:
        """Its shards' subjects' common part: ``<name>.<incarnation>``. The subjects name the
        incarnation, so a publish meant for a stream that was since deleted or made again
        reaches no stream at all (JetStream answers "no responders") and is never stored in
        the new one, whatever its shard count."""
        return f"{self.name}.{self.incarnation}" if self.incarnation else self.name

    def subject(self, shard: int) -> str:
        """The subject of one shard."""
        return f"{self.base}.{shard}"


@dataclass(slots=True)
class _Cursor:
    """A shard's consumer, the sequence its reads have reached, when it last pulled
    (``time.monotonic``), and messages it pulled past a read's budget (the next read's first)."""

    consumer: PullConsumer
    bound: int
    used_at: float
    held: list[Any] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        """Whether the server surely still has the consumer (it drops idle ones)."""
        return time.monotonic() - self.used_at < _INACTIVE_SECONDS / 2


class NatsStreamLog:
    """Sharded streams in NATS JetStream. Use :meth:`from_url`, or pass a connected client."""

    def __init__(self, servers: str, prefix: str = "AION", client: Any = None) -> None:
        self.servers = servers
        self.prefix = prefix
        self._nc: Any = client
        self._owns_client = client is None
        self._js: JetStreamContext | None = None
        self._infos = StreamInfoCache(self._load_info)
        self._cursors: dict[tuple[str, int], _Cursor] = {}
        self._buckets: dict[str, KeyValue] = {}
        self._closing: set[asyncio.Task[None]] = set()

    @classmethod
    def from_url(cls, url: str) -> NatsStreamLog:
        """``nats://host:port?prefix=AION``."""
        options = url_options(url)
        prefix = options.pop("prefix", "AION")
        parts = urlsplit(url)
        return cls(urlunsplit(parts._replace(query=urlencode(options))), prefix)

    @contextlib.contextmanager
    def _mapped(self) -> Iterator[None]:
        try:
            yield
        except (
            nats.errors.ConnectionClosedError,
            nats.errors.NoServersError,
            nats.errors.TimeoutError,
            nats.errors.NoRespondersError,
            nats.js.errors.ServiceUnavailableError,
            OSError,
        ) as exc:
            raise BackendUnavailable("nats", str(exc) or type(exc).__name__) from exc

    async def open(self) -> None:
        if self._js is not None:
            return
        with self._mapped():
            if self._nc is None:
                self._nc = await nats.connect(
                    self.servers, connect_timeout=3, max_reconnect_attempts=2, allow_reconnect=True
                )
            self._js = self._nc.jetstream()
            await self._js.account_info()

    async def close(self) -> None:
        cursors, self._cursors = self._cursors, {}
        for cursor in cursors.values():
            with contextlib.suppress(Exception):
                await cursor.consumer.close()
        self._js = None
        if self._owns_client and self._nc is not None:
            await self._nc.close()
            self._nc = None

    async def is_alive(self) -> bool:
        """Whether the client is connected and JetStream answers now (readiness asks)."""
        if self._js is None or self._nc is None or not self._nc.is_connected:
            return False
        try:
            with self._mapped():
                await self._js.account_info()
        except BackendUnavailable:
            return False
        return True

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise BackendUnavailable("nats", "the stream log is not open")
        return self._js

    def stream_name(self, ns: str, stream: str) -> str:
        """The JetStream stream that holds an Aion stream (a digest: JetStream names are
        narrower than Aion's)."""
        digest = hashlib.sha1(f"{ns}/{stream}".encode()).hexdigest()[:24]
        return f"{self.prefix}_{digest}"

    async def _load_info(self, ns: str, stream: str) -> _Info:
        name = self.stream_name(ns, stream)
        with self._mapped():
            try:
                info = await self.js.stream_info(name)
            except nats.js.errors.NotFoundError:
                raise stream_not_found(ns, stream) from None
        return _info_of(name, info.config)

    async def create_stream(
        self, namespace: str, stream: str, shards: int = 1, retention_seconds: int | None = None
    ) -> StreamDescription:
        check_new_stream(namespace, stream, shards, retention_seconds)
        self._infos.forget(namespace, stream)  # another server may have deleted it
        try:
            found = await self._infos.stream(namespace, stream)
        except StreamNotFound:
            name = self.stream_name(namespace, stream)
            found = _Info(name, shards, retention_seconds, new_incarnation())
            meta = {_META_NS: namespace, _META_STREAM: stream, _META_SHARDS: shards}
            config = api.StreamConfig(
                name=name,
                subjects=[f"{found.base}.*"],
                max_age=float(retention_seconds) if retention_seconds else None,
                allow_direct=True,
                # In the description, not ``metadata``: servers before 2.10 drop metadata.
                description=json.dumps({**meta, _META_INCARNATION: found.incarnation}),
            )
            with self._mapped():
                try:
                    await self.js.add_stream(config)
                except nats.js.errors.BadRequestError:
                    # Another server made it first (its own incarnation): that one stands.
                    self._infos.forget(namespace, stream)
                    found = await self._infos.stream(namespace, stream)
        check_shard_count(stream, found.shards, shards)
        return await self.describe_stream(namespace, stream)

    async def _bounds(
        self, name: str, shard: int, expect: _Info | None = None
    ) -> tuple[int, int, int | None]:
        """(trim mark, last sequence, arrival time of the last record) of a shard of the
        stream as it is now; StaleStream when that is not ``expect`` (what was cached)."""
        with self._mapped():
            try:
                info = await self.js.stream_info(name)
            except nats.js.errors.NotFoundError:
                raise StaleStream from None
            now = _info_of(name, info.config)
            if expect is not None and (now.incarnation, now.shards) != (
                expect.incarnation,
                expect.shards,
            ):
                raise StaleStream
            trimmed = max(0, info.state.first_seq - 1)
            try:
                newest = await self.js.get_last_msg(name, now.subject(shard))
            except nats.js.errors.NotFoundError:
                return trimmed, trimmed, None
        assert newest.seq is not None
        return trimmed, newest.seq, _time_of_raw(newest)

    async def describe_stream(self, namespace: str, stream: str) -> StreamDescription:
        async def attempt() -> StreamDescription:
            found = await self._infos.stream(namespace, stream)
            bounds = []
            for i in range(found.shards):
                trimmed, last, _ = await self._bounds(found.name, i, found)
                bounds.append(shard_bounds(trimmed, last))
            return stream_description(namespace, stream, bounds, found.retention_seconds)

        self._infos.forget(namespace, stream)
        return await fresh_retry(attempt, self._fresh(namespace, stream), namespace, stream)

    def _fresh(self, namespace: str, stream: str) -> Callable[[], None]:
        """What :func:`fresh_retry` calls when the cached stream turned out stale: forget it,
        and drop the read consumers of any incarnation of it."""
        name = self.stream_name(namespace, stream)

        def forget() -> None:
            self._infos.forget(namespace, stream)
            for key in [k for k in self._cursors if k[0].split(".")[0] == name]:
                task = asyncio.get_running_loop().create_task(self._drop(self._cursors.pop(key)))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)

        return forget

    @staticmethod
    async def _drop(cursor: _Cursor) -> None:
        with contextlib.suppress(Exception):
            await cursor.consumer.close()

    async def delete_stream(self, namespace: str, stream: str) -> None:
        self._fresh(namespace, stream)()  # whatever another server did since, delete it now
        found = await self._infos.stream(namespace, stream)
        with self._mapped():
            try:
                await self.js.delete_stream(found.name)
            except nats.js.errors.NotFoundError:
                raise stream_not_found(namespace, stream) from None
            finally:
                self._infos.forget(namespace, stream)
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await self.js.delete_key_value(f"{found.name}_STATE")
        self._buckets.pop(found.name, None)

    async def list_namespaces(self) -> list[str]:
        """The namespaces that hold at least one stream, sorted."""
        with self._mapped():
            infos = await self.js.streams_info()
        metas = [
            _meta_of(i.config) for i in infos if (i.config.name or "").startswith(self.prefix + "_")
        ]
        return sorted({str(m[_META_NS]) for m in metas if _META_NS in m})

    async def list_streams(self, namespace: str) -> list[str]:
        with self._mapped():
            infos = await self.js.streams_info()
        metas = [
            _meta_of(i.config) for i in infos if (i.config.name or "").startswith(self.prefix + "_")
        ]
        return sorted(m[_META_STREAM] for m in metas if m.get(_META_NS) == namespace)

    async def append(
        self, namespace: str, stream: str, records: Sequence[AppendRecord]
    ) -> list[tuple[int, int]]:
        await self._infos.stream(namespace, stream)  # names checked, StreamNotFound first
        check_records(records)

        async def attempt() -> list[tuple[int, int]]:
            found = await self._infos.stream(namespace, stream)
            placed = [shard_of(r, found.shards) for r in records]
            with self._mapped():
                futures = [
                    await self.js.publish_async(
                        found.subject(shard),
                        bytes(record.data),
                        headers={_KEY_HEADER: quote(record.partition_key, safe="")},
                    )
                    for record, shard in zip(records, placed, strict=True)
                ]
                acks = await asyncio.gather(*futures, return_exceptions=True)
            failed = [a for a in acks if isinstance(a, BaseException)]
            if any(isinstance(a, nats.js.errors.NoStreamResponseError) for a in failed):
                # No stream takes this incarnation's subjects: it was deleted, maybe made
                # again. What did go in went into a deleted stream; none of it is acknowledged.
                raise StaleStream
            if failed:
                with self._mapped():
                    raise failed[0]
            pubs = [a for a in acks if not isinstance(a, BaseException)]
            return [(shard, ack.seq) for shard, ack in zip(placed, pubs, strict=True)]

        # Once more against the stream as it is now, placed over its shards as they are now.
        return await fresh_retry(attempt, self._fresh(namespace, stream), namespace, stream)

    async def read(
        self,
        namespace: str,
        stream: str,
        shard: int,
        position: Position,
        limit: int = 1000,
        wait_seconds: float = 0.0,
        max_bytes: int = MAX_READ_BYTES,
    ) -> ReadResult:
        check_limit(limit, max_bytes)

        async def attempt() -> tuple[_Info, int, int, int | None]:
            found = await self._infos.shard(namespace, stream, shard)
            return found, *await self._bounds(found.name, shard, found)

        # Stale: another server deleted the stream or made it again since this one cached it.
        found, trimmed, last, last_time = await fresh_retry(
            attempt, self._fresh(namespace, stream), namespace, stream
        )
        if position.kind is PositionKind.AT_TIMESTAMP:
            bound, start_time = None, position.value
        else:
            bound, start_time = start_after(position, trimmed, last), None
        try:
            cursor = await self._cursor(found, shard, bound, start_time)
        except nats.js.errors.NotFoundError:
            raise stream_not_found(namespace, stream) from None  # deleted just now
        try:
            with self._mapped():
                messages = await self._take(cursor, ReadBudget(limit, max_bytes), wait_seconds)
        except BaseException:
            with contextlib.suppress(Exception):
                await cursor.consumer.close()
            raise
        records = [_record_of(shard, m) for m in messages]
        if records:
            cursor.bound = records[-1].sequence
        elif bound is None:
            cursor.bound = last
        await self._keep(found.base, shard, cursor)
        if records and records[-1].sequence >= last:
            last_time = records[-1].arrival_time
        return read_result(records, cursor.bound, last_time)

    async def _cursor(self, found: _Info, shard: int, bound: int | None, at: int | None) -> _Cursor:
        cached = self._cursors.pop((found.base, shard), None)
        if cached is not None and bound is not None and cached.bound == bound and cached.alive:
            return cached
        if cached is not None:
            with contextlib.suppress(Exception):
                await cached.consumer.close()
        config = api.ConsumerConfig(
            ack_policy=api.AckPolicy.NONE,
            filter_subject=found.subject(shard),
            inactive_threshold=_INACTIVE_SECONDS,
            mem_storage=True,
        )
        if at is not None:
            config.deliver_policy = api.DeliverPolicy.BY_START_TIME
            config.opt_start_time = kronos_time_to_datetime(at)
        else:
            assert bound is not None
            config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = bound + 1
        with self._mapped():
            consumer = await PullConsumer.create(self._nc, self.js, found.name, config)
        return _Cursor(consumer, bound if bound is not None else 0, time.monotonic())

    async def _keep(self, base: str, shard: int, cursor: _Cursor) -> None:
        replaced = self._cursors.pop((base, shard), None)
        self._cursors[(base, shard)] = cursor
        if replaced is not None and replaced is not cursor:
            # Another read of the same shard ran concurrently; drop its consumer.
            with contextlib.suppress(Exception):
                await replaced.consumer.close()

    async def _take(self, cursor: _Cursor, budget: ReadBudget, wait_seconds: float) -> list[Any]:
        """The cursor's next messages within ``budget``: first those it holds from the last
        read, then pulled ones. Without any, wait up to ``wait_seconds`` for the first."""
        taken: list[Any] = []

        def admit(messages: list[Any]) -> bool:
            """Take ``messages`` in order while they fit; hold back the rest (False)."""
            for i, message in enumerate(messages):
                if not budget.admit(len(message.data)):
                    cursor.held = messages[i:]
                    return False
                taken.append(message)
            return True

        held, cursor.held = cursor.held, []
        waited = wait_seconds <= 0
        fits = admit(held)
        while fits and not budget.full:
            asked = budget.records_left
            pulled = await cursor.consumer.pull(asked, budget.bytes_left, 0)
            fits = admit(pulled.messages)
            if not fits:
                break
            if pulled.over_bytes:
                # JetStream counts subjects and headers too: the next message may still fit.
                alone = await cursor.consumer.pull(1, None, 0)
                fits = bool(alone.messages) and admit(alone.messages)
            elif len(pulled.messages) < asked:  # nothing more in the shard for now
                if taken or waited:
                    break
                waited = True
                first = await cursor.consumer.pull(1, None, wait_seconds)
                fits = bool(first.messages) and admit(first.messages)
        cursor.used_at = time.monotonic()
        return taken

    async def trim(self, namespace: str, stream: str) -> int:
        await self._infos.stream(namespace, stream)
        return 0  # JetStream applies max_age by itself

    async def _bucket(self, name: str) -> KeyValue:
        bucket = self._buckets.get(name)
        if bucket is None:
            with self._mapped():
                try:
                    bucket = await self.js.key_value(f"{name}_STATE")
                except nats.js.errors.BucketNotFoundError:
                    bucket = await self.js.create_key_value(bucket=f"{name}_STATE", history=1)
            self._buckets[name] = bucket
        return bucket

    @staticmethod
    def _group_key(kind: str, group: str, shard: int) -> str:
        # KV keys allow few characters, so the group name goes in as hex.
        return f"{kind}.{group.encode().hex() or '-'}.{shard}"

    async def _get(self, bucket: KeyValue, key: str) -> tuple[bytes | None, int]:
        with self._mapped():
            try:
                entry = await bucket.get(key)
            except nats.js.errors.KeyNotFoundError:
                return None, 0
        return entry.value, entry.revision or 0

    async def _cas(self, bucket: KeyValue, key: str, value: bytes, revision: int) -> bool:
        with self._mapped():
            try:
                if revision:
                    await bucket.update(key, value, last=revision)
                else:
                    await bucket.create(key, value)
            except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.BadRequestError):
                return False
        return True

    async def get_checkpoints(self, namespace: str, stream: str, group: str) -> dict[int, int]:
        found = await self._infos.stream(namespace, stream)
        bucket = await self._bucket(found.name)
        out = {}
        for shard in range(found.shards):
            value, _ = await self._get(bucket, self._group_key("c", group, shard))
            if value:
                out[shard] = int(value)
        return out

    async def set_checkpoint(
        self,
        namespace: str,
        stream: str,
        group: str,
        shard: int,
        sequence: int,
        expected: int | None = None,
    ) -> bool:
        check_checkpoint(sequence, expected)
        found = await self._infos.shard(namespace, stream, shard)
        check_checkpoint_end(sequence, (await self._bounds(found.name, shard))[1])
        bucket = await self._bucket(found.name)
        key = self._group_key("c", group, shard)
        if expected is None:
            with self._mapped():
                await bucket.put(key, str(sequence).encode())
            return True
        value, revision = await self._get(bucket, key)
        if not checkpoint_matches(int(value) if value else 0, expected):
            return False
        return await self._cas(bucket, key, str(sequence).encode(), revision)

    async def get_leases(self, namespace: str, stream: str, group: str) -> dict[int, Lease]:
        found = await self._infos.stream(namespace, stream)
        bucket = await self._bucket(found.name)
        out = {}
        for shard in range(found.shards):
            value, _ = await self._get(bucket, self._group_key("l", group, shard))
            if value:
                out[shard] = lease_from_text(shard, value.decode())
        return out

    async def set_lease(
        self,
        namespace: str,
        stream: str,
        group: str,
        shard: int,
        owner: str | None,
        expires_at: int,
        expected_version: int,
    ) -> Lease | None:
        check_lease_version(expected_version)
        found = await self._infos.shard(namespace, stream, shard)
        bucket = await self._bucket(found.name)
        key = self._group_key("l", group, shard)
        value, revision = await self._get(bucket, key)
        stored = lease_from_text(shard, value.decode()).version if value else 0
        lease = lease_after_cas(stored, shard, owner, expires_at, expected_version)
        if lease is None:
            return None
        return lease if await self._cas(bucket, key, lease_text(lease).encode(), revision) else None


def _meta_of(config: api.StreamConfig) -> dict[str, Any]:
    try:
        meta = json.loads(config.description or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _info_of(name: str, config: api.StreamConfig) -> _Info:
    retention = int(config.max_age) if config.max_age else None
    meta = _meta_of(config)
    return _Info(
        name, int(meta.get(_META_SHARDS, 1)), retention, str(meta.get(_META_INCARNATION, ""))
    )


def _record_of(shard: int, message: Any) -> StoredRecord:
    meta = message.metadata
    key = unquote((message.headers or {}).get(_KEY_HEADER, ""))
    stamp: datetime = meta.timestamp
    return StoredRecord(
        shard, meta.sequence.stream, key, message.data, datetime_to_kronos_time(stamp)
    )


def _time_of_raw(message: api.RawStreamMsg) -> int | None:
    stamp = message.time
    return None if stamp is None else datetime_to_kronos_time(stamp.astimezone(UTC))
