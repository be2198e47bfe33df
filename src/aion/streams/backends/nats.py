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

Reads use ephemeral pull consumers (no acks, filtered to the shard's subject), kept idle per
shard and position while readers go on from where their last read ended, so sequential reads
cost one fetch and no consumer is made per read: readers at different positions of a shard
(each rollup rule, a group's worker) each keep their own, up to ``CURSORS_PER_SHARD`` per
shard; a consumer no longer kept is deleted on the server at once (not left to expire).
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
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from aion.core.time import datetime_to_kronos_time, kronos_time_to_datetime
from aion.errors import BackendUnavailable, ConfigurationError
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
    check_lease_request,
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

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "CURSORS_PER_SHARD",
    "OPEN_WAIT_SECONDS",
    "RECONNECT_WAIT_SECONDS",
    "NatsStreamLog",
    "nats_servers",
]

CONNECT_TIMEOUT_SECONDS = 3
RECONNECT_WAIT_SECONDS = 1
"""Between attempts to reach NATS again (nats-py adds jitter), for as long as it takes."""
OPEN_WAIT_SECONDS = 2.0
"""How long opening waits for a first connection before it goes on connecting in the
background."""
CLOSE_TIMEOUT_SECONDS = 5.0
CURSORS_PER_SHARD = 8
"""Idle read consumers kept per shard, one per position that readers (a consumer group's
worker, each rollup rule) have reached; more are deleted, oldest first."""
log = logging.getLogger("aion.streams.nats")

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
    """Sharded streams in NATS JetStream. Use :meth:`from_url`, or pass a connected client.

    The connection is never given up: one lost is re-made forever, every
    :data:`RECONNECT_WAIT_SECONDS` (nats-py's reconnection, with jitter), and a server that is
    down when the log opens is connected in the background once it answers. Meanwhile every
    call fails at once with ``BackendUnavailable`` (a 503), rather than waiting on a request
    that cannot be answered."""

    def __init__(self, servers: str | Sequence[str], prefix: str = "AION", client: Any = None):
        self.servers = [servers] if isinstance(servers, str) else list(servers)
        self.prefix = prefix
        self._nc: Any = client
        self._owns_client = client is None
        self._js: JetStreamContext | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._closing_client = False
        self._failure: str | None = None
        self._infos = StreamInfoCache(self._load_info)
        self._cursors: dict[tuple[str, int], list[_Cursor]] = {}
        self._buckets: dict[str, KeyValue] = {}
        self._closing: set[asyncio.Task[None]] = set()

    @classmethod
    def from_url(cls, url: str) -> NatsStreamLog:
        """``nats://host:port?prefix=AION``; a cluster lists its servers, comma-separated:
        ``nats://a:4222,nats://b:4222`` (or ``nats://a:4222,b:4222``)."""
        return cls(*nats_servers(url))

    @contextlib.contextmanager
    def _mapped(self) -> Iterator[None]:
        try:
            yield
        except (
            nats.errors.ConnectionClosedError,
            nats.errors.ConnectionReconnectingError,
            nats.errors.StaleConnectionError,
            nats.errors.NoServersError,
            nats.errors.TimeoutError,
            nats.errors.NoRespondersError,
            nats.js.errors.ServiceUnavailableError,
            OSError,
        ) as exc:
            raise BackendUnavailable("nats", str(exc) or type(exc).__name__) from exc

    async def open(self) -> None:
        """Connect, waiting up to :data:`OPEN_WAIT_SECONDS`; a server still not answering by
        then is connected in the background (calls fail with ``BackendUnavailable`` until it
        is), so a server process starts while NATS is down."""
        if self._js is not None or self._connecting is not None:
            return
        if self._nc is not None:  # a client of the caller's, connected
            self._js = self._nc.jetstream()
            with self._mapped():
                await self._js.account_info()
            return
        self._nc = NATS()
        self._closing_client = False
        self._failure = None
        self._connecting = asyncio.get_running_loop().create_task(
            self._connect(self._nc), name="aion-nats-connect"
        )
        self._connecting.add_done_callback(self._connected)
        done, _ = await asyncio.wait({self._connecting}, timeout=OPEN_WAIT_SECONDS)
        if not done:
            log.warning(
                "NATS (%s) is not answering; connecting in the background, stream requests "
                "answer 503 until it does",
                ", ".join(self.servers),
            )
            return
        with self._mapped():
            await self.js.account_info()

    def _connected(self, task: asyncio.Task[None]) -> None:
        """The connecting task ended: connected, or failed for good (refused credentials, a
        bad URL), which is logged and then said by every call instead of "connecting"."""
        if task is not self._connecting or task.cancelled():
            return
        self._connecting = None
        failure = task.exception()
        if failure is not None:
            log.error("cannot connect to NATS (%s): %s", ", ".join(self.servers), failure)
            self._failure = f"cannot connect: {failure}"

    async def _connect(self, nc: NATS) -> None:
        await nc.connect(
            self.servers,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            allow_reconnect=True,
            max_reconnect_attempts=-1,  # forever: an outage must never become permanent
            reconnect_time_wait=RECONNECT_WAIT_SECONDS,
            error_cb=self._connection_error,
            disconnected_cb=self._disconnected,
            reconnected_cb=_reconnected,
        )
        self._js = nc.jetstream()
        log.info("connected to NATS %s", nc.connected_url.netloc if nc.connected_url else "")

    async def _connection_error(self, exc: Exception) -> None:
        """nats-py's error callback. A failed attempt to reach a server is routine during an
        outage (nats-py's default logs each with a traceback). An attempt that connected but
        then failed (a balancer or proxy that accepts and hangs up while NATS is down) leaves
        its socket open: nats-py's next attempt replaces it without closing it, so it is
        closed here, only while not connected."""
        log.debug("NATS connection: %s: %s", type(exc).__name__, exc)
        nc = self._nc
        if nc is not None and not nc.is_connected and not nc.is_closed:
            transport = getattr(nc, "_transport", None)
            if transport is not None:
                with contextlib.suppress(Exception):
                    transport.close()

    async def _disconnected(self) -> None:
        if not self._closing_client:
            log.warning(
                "lost the connection to NATS; reconnecting every %ds", RECONNECT_WAIT_SECONDS
            )

    async def close(self) -> None:
        self._closing_client = True
        connecting, self._connecting = self._connecting, None
        if connecting is not None and not connecting.done():
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connecting
        cursors, self._cursors = self._cursors, {}
        for idle in cursors.values():
            for cursor in idle:
                with contextlib.suppress(Exception):
                    await cursor.consumer.close()
        self._js = None
        if self._owns_client and self._nc is not None:
            # Bounded: a shutdown must not hang on a connection that cannot flush.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), CLOSE_TIMEOUT_SECONDS)
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
        """The JetStream context; ``BackendUnavailable`` at once while not connected."""
        if self._js is None:
            if self._connecting is not None:
                raise BackendUnavailable("nats", "not connected yet (connecting)")
            raise BackendUnavailable("nats", self._failure or "the stream log is not open")
        if self._nc is not None and not self._nc.is_connected:
            raise BackendUnavailable("nats", "connection lost (reconnecting)")
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
                for cursor in self._cursors.pop(key):
                    self._discard(cursor)

        return forget

    def _discard(self, cursor: _Cursor) -> None:
        """Delete a read consumer in the background (the read does not wait for it)."""

        async def drop() -> None:
            with contextlib.suppress(Exception):
                await cursor.consumer.close()

        task = asyncio.get_running_loop().create_task(drop())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

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
            self._discard(cursor)
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
        """An idle consumer of the shard that continues from ``bound``, else a new one that
        starts after ``bound`` (or at kronos time ``at``). Readers at different positions of
        one shard (a group's worker, each rollup rule) each keep their own, so none of them
        makes a consumer per read."""
        idle = self._cursors.get((found.base, shard), [])
        for cursor in [c for c in idle if not c.alive]:  # the server has dropped these
            idle.remove(cursor)
            self._discard(cursor)
        if bound is not None:
            for i, cursor in enumerate(idle):
                if cursor.bound == bound:
                    return idle.pop(i)
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
        """Keep ``cursor`` idle for the next read from where it ended; past
        :data:`CURSORS_PER_SHARD`, the least recently used one of the shard is deleted."""
        idle = self._cursors.setdefault((base, shard), [])
        idle.append(cursor)
        while len(idle) > CURSORS_PER_SHARD:
            self._discard(idle.pop(0))

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

    async def _store_now(self, name: str, bucket: KeyValue) -> int:
        """The JetStream server's clock as kronos time: the timestamp the server gives a
        write to the bucket's ``clock`` key (one put, then the key's last write, ours or a
        later one; history 1 keeps one)."""
        with self._mapped():
            await bucket.put("clock", b"")
            message = await self.js.get_msg(f"KV_{name}_STATE", subject=f"$KV.{name}_STATE.clock")
        stamp = message.time
        if stamp is None:
            raise BackendUnavailable("nats", "the server gave the clock write no timestamp")
        return datetime_to_kronos_time(stamp.astimezone(UTC))

    async def lease_time(self, namespace: str, stream: str) -> int:
        found = await self._infos.stream(namespace, stream)
        return await self._store_now(found.name, await self._bucket(found.name))

    async def set_lease(
        self,
        namespace: str,
        stream: str,
        group: str,
        shard: int,
        owner: str | None,
        lease_seconds: float | None,
        expected_version: int,
        claimant: str | None = None,
    ) -> Lease | None:
        ttl = check_lease_request(expected_version, lease_seconds, owner, claimant)
        found = await self._infos.shard(namespace, stream, shard)
        bucket = await self._bucket(found.name)
        key = self._group_key("l", group, shard)
        value, revision = await self._get(bucket, key)
        stored = lease_from_text(shard, value.decode()) if value else None
        if (0 if stored is None else stored.version) != expected_version:
            return None
        # The expiry counts from the server's clock read just before the write (a few
        # milliseconds early, so never later than the store's clock says).
        now = await self._store_now(found.name, bucket)
        lease = lease_after_cas(stored, shard, owner, (now, ttl), expected_version, claimant)
        if lease is None:
            return None
        return lease if await self._cas(bucket, key, lease_text(lease).encode(), revision) else None


def nats_servers(url: str) -> tuple[list[str], str]:
    """The server URLs and the stream prefix of a ``nats://`` URL, which may list several
    servers, comma-separated (``nats://a:4222,nats://b:4222`` or ``nats://a:4222,b:4222``);
    the query (``?prefix=AION``) may follow any of them and applies to all."""
    first = urlsplit(url)
    scheme = first.scheme or "nats"
    servers: list[str] = []
    options: dict[str, str] = {}
    for item in url.split(","):
        item = item.strip()
        if not item:
            continue
        parts = urlsplit(item if "://" in item else f"{scheme}://{item}")
        options.update(url_options(urlunsplit(parts)))
        if not parts.hostname:
            raise ConfigurationError(f"NATS URL {url!r}: {item!r} names no host")
        try:
            parts.port  # noqa: B018 - a bad port raises here, not deep inside nats-py
        except ValueError:
            raise ConfigurationError(f"NATS URL {url!r}: {item!r} has a bad port") from None
        servers.append(urlunsplit(parts._replace(path="", query="", fragment="")))
    if not servers:
        raise ConfigurationError(f"NATS URL {url!r} names no server")
    prefix = options.pop("prefix", "AION")
    if options:
        raise ConfigurationError(
            f"NATS URL {url!r}: unknown option(s) {', '.join(sorted(options))} (known: prefix)"
        )
    return servers, prefix


async def _reconnected() -> None:
    log.warning("reconnected to NATS")


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
