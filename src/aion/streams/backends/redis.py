"""The Redis Streams StreamLog: one Redis stream key per shard (redis-py asyncio).

Sequence numbers are the Redis entry ids ``<ms>-<n>`` read as ``ms * 1_000_000 + n``: they
increase per shard as the ids do, fit in 64 bits until the year 2262, and carry the arrival
time (to the millisecond). A shard would need a million appends within one millisecond to
break the mapping. Appends go out as one script of XADDs, so a batch is all or none; reads
are one script call that pages through ``XRANGE`` until the read's byte budget is spent (so
Redis never gathers more than the budget and a page), and long-polls wait with ``XREAD BLOCK``.

Trimming (``XTRIM MINID``) runs in a Lua script that first notes the id of the last entry it
removes, so the trim mark is exact (Redis itself does not record it for XTRIM).

Several servers may share one Redis, each caching a stream's shard count. Each making of a
stream gets a fresh incarnation id, and every script that appends, reads or trims checks it
and the shard count first, atomically with its work: a server whose cache another one made
stale (by deleting the stream, or making it again with another shape) has nothing stored and
is told so (nil), forgets, and tries once more against the stream as it is now. A stream made
again starts each shard key at the Redis time of its making, so its sequence numbers are above
every one the deleted stream handed out, and a position from that one is refused.

Keys, under a prefix (``aion:`` by default; names cannot hold ``:``)::

    {p}s:{ns}:{stream}            hash   shards, retention, inc (the incarnation id), floor
                                         (the Redis time, in ms, it was made)
    {p}n:{ns}                     set    stream names of the namespace
    {p}x:{ns}:{stream}:{shard}    stream the shard's records (fields k: partition key, d: data)
    {p}t:{ns}:{stream}            hash   shard → id of the last entry trimmed
    {p}c:{ns}:{stream}:{group}    hash   shard → checkpoint
    {p}l:{ns}:{stream}:{group}    hash   shard → "version|expires_at|owner"
    {p}g:{ns}:{stream}            set    consumer groups (to delete their keys)
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
import redis.exceptions

from aion.core.redis_urls import async_redis
from aion.core.time import kronos_time_now
from aion.errors import BackendUnavailable
from aion.streams.protocol import (
    MAX_READ_BYTES,
    MAX_RECORD_BYTES,
    AppendRecord,
    Lease,
    Position,
    PositionKind,
    ReadResult,
    StoredRecord,
    StreamDescription,
    check_new_stream,
    check_records,
    check_stream,
    shard_of,
    start_after,
)
from aion.streams.registry import url_options
from aion.streams.rules import (
    ShardBounds,
    StaleStream,
    StreamInfoCache,
    check_checkpoint,
    check_checkpoint_end,
    check_floor,
    check_lease_request,
    check_limit,
    check_shard_count,
    fresh_retry,
    granted_lease,
    lease_from_text,
    lease_text,
    new_incarnation,
    read_result,
    stream_description,
    stream_not_found,
)

__all__ = ["RedisStreamLog", "id_of", "sequence_of"]

_PER_MS = 1_000_000
_SHARD_ARG = [str(i + 1) for i in range(10_000)]
_TICKS_PER_MS = 10_000

# Every script that writes or reads a shard first checks the stream's incarnation and shard
# count in its hash (the last of its KEYS; ARGV: incarnation, shard count) and answers nil,
# touching nothing, when they are not the ones the caller cached: another server deleted the
# stream, or made it again. The check and the write are one atomic script, so no append is
# acknowledged into a stream shape that was replaced.
_SAME = """
local now = redis.call('HMGET', KEYS[#KEYS], 'shards', 'inc')
if now[1] ~= ARGV[2] or (now[2] or '') ~= ARGV[1] then return nil end
"""

# KEYS: meta hash, name set, trim marks, consumer-group set; ARGV: shards, retention,
# incarnation, stream name, the shard keys' prefix, the group keys' prefixes (c, l). A stream
# made anew starts clean: whatever a deleted incarnation left under its keys goes, and every
# shard key starts empty with its last id at the incarnation's floor (the Redis time now), so
# its entry ids, and the sequence numbers, are all above any a former incarnation handed out.
# Answers the stored shard count.
_CREATE = """
if redis.call('HSETNX', KEYS[1], 'shards', ARGV[1]) == 0 then
  return redis.call('HGET', KEYS[1], 'shards')
end
local t = redis.call('TIME')
local floor = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, group in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  redis.call('DEL', ARGV[6] .. group, ARGV[7] .. group)
end
redis.call('DEL', KEYS[3], KEYS[4])
for i = 0, tonumber(ARGV[1]) - 1 do
  local key = ARGV[5] .. i
  redis.call('DEL', key)
  redis.call('XADD', key, 'MAXLEN', 0, floor .. '-1', 'k', '', 'd', '')
end
redis.call('HSET', KEYS[1], 'retention', ARGV[2], 'inc', ARGV[3], 'floor', floor)
redis.call('SADD', KEYS[2], ARGV[4])
return ARGV[1]
"""

# KEYS: meta hash, name set, trim marks, consumer-group set; ARGV: the shard keys' prefix,
# the group keys' prefixes (c, l), stream name. Deletes what the stored shard count names
# (not a count some server cached).
_DELETE = """
local shards = redis.call('HGET', KEYS[1], 'shards')
if not shards then return 0 end
for _, group in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  redis.call('DEL', ARGV[2] .. group, ARGV[3] .. group)
end
for i = 0, tonumber(shards) - 1 do redis.call('DEL', ARGV[1] .. i) end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
redis.call('SREM', KEYS[2], ARGV[4])
return 1
"""

# KEYS: shard stream, trim marks, meta hash; ARGV: incarnation, shard count, MINID, shard.
_TRIM = (
    _SAME
    + """
local last = redis.call('XREVRANGE', KEYS[1], '(' .. ARGV[3], '-', 'COUNT', 1)
if #last == 0 then return 0 end
local n = redis.call('XTRIM', KEYS[1], 'MINID', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[4], last[1][1])
return n
"""
)

# KEYS: the stream's shard keys, meta hash; ARGV: incarnation, shard count, then per record
# its key's index, partition key, data.
_APPEND = (
    _SAME
    + """
local ids = {}
for i = 3, #ARGV, 3 do
  local key = KEYS[tonumber(ARGV[i])]
  ids[#ids + 1] = redis.call('XADD', key, '*', 'k', ARGV[i + 1], 'd', ARGV[i + 2])
end
return table.concat(ids, ' ')
"""
)

# KEYS: shard stream, trim marks, meta hash; ARGV: incarnation, shard count, shard, start
# ('' reads nothing), count, max bytes, the largest a record can be. XRANGE goes page by
# page, a page holding no more records than the bytes left could take were each as large as
# a record can be, plus one: however large
# the records, Redis never gathers much more than the budget (and a page of XRANGE costs
# next to nothing). The budget follows ReadBudget: the first record always goes in, then
# records while their data fits. The entries come back as three strings (ids, "key-length
# data-length" pairs, the bytes end to end) so redis-py parses five replies per read, not a
# nested reply per record.
_READ = (
    _SAME
    + """
local mark = redis.call('HGET', KEYS[2], ARGV[3]) or ''
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local last = ''
if #newest > 0 then last = newest[1][1] end
local ids, lens, body = {}, {}, {}
local want, left, largest = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local from, n, done = ARGV[4], 0, ARGV[4] == ''
while not done do
  local page = math.min(want - n, math.floor(math.max(left, 0) / largest) + 1)
  local entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', page)
  for _, e in ipairs(entries) do
    local f, k, d = e[2], '', ''
    for j = 1, #f, 2 do
      if f[j] == 'k' then k = f[j + 1] elseif f[j] == 'd' then d = f[j + 1] end
    end
    if n > 0 and #d > left then done = true break end
    ids[#ids + 1] = e[1]
    lens[#lens + 1] = #k .. ' ' .. #d
    body[#body + 1] = k
    body[#body + 1] = d
    n, left = n + 1, left - #d
    if n >= want or left <= 0 then done = true break end
  end
  if #entries < page then done = true end
  if not done then from = '(' .. entries[#entries][1] end
end
return {mark, last, table.concat(ids, ' '), table.concat(lens, ' '), table.concat(body)}
"""
)

_CAS = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local have = 0
if cur then have = tonumber(string.match(cur, '^(%d+)')) end
if have ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# A lease compare-and-set whose expiry Redis computes from its own clock (TIME) in the same
# step. ARGV: shard, expected version, owner part (see lease_text), ttl ticks ("" keeps the
# stored expiry). Kronos times stay below 2**54 and are even, so doubles hold them exactly.
_LEASE = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local have, expires = 0, nil
if cur then
  local v, e = string.match(cur, '^(%d+)|(%d+)|')
  have, expires = tonumber(v), e
end
if have ~= tonumber(ARGV[2]) then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 10000000 + tonumber(t[2]) * 10
if ARGV[4] ~= '' then
  expires = string.format('%.0f', now + tonumber(ARGV[4]))
elseif not expires then
  expires = string.format('%.0f', now)
end
redis.call('HSET', KEYS[1], ARGV[1], (have + 1) .. '|' .. expires .. '|' .. ARGV[3])
return expires
"""


def sequence_of(entry_id: bytes | str) -> int:
    """A Redis entry id as a sequence number."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, n = text.partition("-")
    return int(ms) * _PER_MS + int(n or 0)


def _time(sequence: int) -> int:
    """The arrival kronos time a sequence number carries (its millisecond)."""
    return sequence // _PER_MS * _TICKS_PER_MS


def _unpack(shard: int, ids: bytes, lengths: bytes, body: bytes) -> list[StoredRecord]:
    """The records of a read script's answer (see ``_READ``)."""
    if not ids:
        return []
    sizes = iter([int(n) for n in lengths.split()])
    records = []
    pos = 0
    for entry_id, key_size, data_size in zip(ids.split(), sizes, sizes, strict=True):
        ms, _, n = entry_id.partition(b"-")
        seq = int(ms) * _PER_MS + int(n)
        key = body[pos : pos + key_size].decode()
        pos += key_size
        records.append(StoredRecord(shard, seq, key, body[pos : pos + data_size], _time(seq)))
        pos += data_size
    return records


def id_of(sequence: int) -> str:
    """A sequence number as the Redis entry id it came from."""
    return f"{sequence // _PER_MS}-{sequence % _PER_MS}"


@dataclass(frozen=True, slots=True)
class _Info:
    """What a server caches of a stream: its shape, its incarnation ('' for a stream made
    before incarnations were kept) and the sequence floor of that incarnation (0: none)."""

    shards: int
    retention_seconds: int | None
    incarnation: str = ""
    floor: int = 0

    @property
    def same(self) -> list[str]:
        """The scripts' first ARGV: what the stream must still be for them to go ahead."""
        return [self.incarnation, str(self.shards)]


class RedisStreamLog:
    """Sharded streams in Redis. Takes a ``redis.asyncio.Redis`` (bytes responses) or use
    :meth:`from_url`."""

    def __init__(self, client: aioredis.Redis, prefix: str = "aion:", owns_client: bool = False):
        self.client = client
        self.prefix = prefix
        self._owns_client = owns_client
        self._infos = StreamInfoCache(self._load_info)
        self._create = client.register_script(_CREATE)
        self._delete = client.register_script(_DELETE)
        self._trim = client.register_script(_TRIM)
        self._append = client.register_script(_APPEND)
        self._read = client.register_script(_READ)
        self._cas = client.register_script(_CAS)
        self._lease = client.register_script(_LEASE)

    @classmethod
    def from_url(cls, url: str) -> RedisStreamLog:
        """``redis://host:port/db?prefix=aion:`` (other query options go to redis-py), or
        Redis Sentinel: ``redis+sentinel://host:26379,host2:26379/mymaster/0?prefix=aion:``
        (see :mod:`aion.core.redis_urls`)."""
        options = url_options(url)
        prefix = options.pop("prefix", "aion:")
        parts = urlsplit(url)
        plain = urlunsplit(parts._replace(query=urlencode(options)))
        return cls(async_redis(plain), prefix, owns_client=True)

    @contextlib.contextmanager
    def _mapped(self) -> Iterator[None]:
        try:
            yield
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise BackendUnavailable("redis", str(exc) or type(exc).__name__) from exc

    async def open(self) -> None:
        with self._mapped():
            await self.client.ping()

    async def close(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    async def is_alive(self) -> bool:
        """Whether Redis answers a PING now (readiness asks)."""
        try:
            with self._mapped():
                await self.client.ping()
        except BackendUnavailable:
            return False
        return True

    # -- keys -------------------------------------------------------------------------

    def _meta(self, ns: str, stream: str) -> str:
        return f"{self.prefix}s:{ns}:{stream}"

    def _shard_key(self, ns: str, stream: str, shard: int) -> str:
        return f"{self.prefix}x:{ns}:{stream}:{shard}"

    def _trims(self, ns: str, stream: str) -> str:
        return f"{self.prefix}t:{ns}:{stream}"

    def _group_key(self, kind: str, ns: str, stream: str, group: str) -> str:
        return f"{self.prefix}{kind}:{ns}:{stream}:{group}"

    async def _load_info(self, ns: str, stream: str) -> _Info:
        with self._mapped():
            meta: Any = await self.client.hgetall(self._meta(ns, stream))
        if not meta:
            raise stream_not_found(ns, stream)
        retention = meta.get(b"retention", b"")
        floor_ms = int(meta.get(b"floor", 0))
        return _Info(
            int(meta[b"shards"]),
            int(retention) if retention else None,
            meta.get(b"inc", b"").decode(),
            floor_ms * _PER_MS + 1 if floor_ms else 0,
        )

    def _fresh(self, namespace: str, stream: str) -> Callable[[], None]:
        """What :func:`fresh_retry` calls to drop this server's cache of the stream."""
        return functools.partial(self._infos.forget, namespace, stream)

    def _scoped_keys(self, ns: str, stream: str) -> tuple[list[str], list[str]]:
        """The create and delete scripts' stream-wide KEYS, and the key prefixes of its
        shards and consumer groups (checkpoints, leases)."""
        keys = [
            self._meta(ns, stream),
            f"{self.prefix}n:{ns}",
            self._trims(ns, stream),
            f"{self.prefix}g:{ns}:{stream}",
        ]
        prefixes = [self._shard_key(ns, stream, 0)[:-1]]
        prefixes += [self._group_key(kind, ns, stream, "") for kind in ("c", "l")]
        return keys, prefixes

    # -- streams ----------------------------------------------------------------------

    async def create_stream(
        self, namespace: str, stream: str, shards: int = 1, retention_seconds: int | None = None
    ) -> StreamDescription:
        check_new_stream(namespace, stream, shards, retention_seconds)
        keys, prefixes = self._scoped_keys(namespace, stream)
        args = [shards, retention_seconds or "", new_incarnation(), stream, *prefixes]
        with self._mapped():
            stored: Any = await self._create(keys=keys, args=args)
        check_shard_count(stream, int(stored), shards)
        return await self.describe_stream(namespace, stream)

    async def _bounds(self, ns: str, stream: str, shards: int) -> list[ShardBounds]:
        """(trim mark, first retained, last) per shard."""
        with self._mapped():
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hgetall(self._trims(ns, stream))
                for shard in range(shards):
                    key = self._shard_key(ns, stream, shard)
                    pipe.xrange(key, count=1)
                    pipe.xrevrange(key, count=1)
                marks, *ends = await pipe.execute()
        out = []
        for shard in range(shards):
            first, last = ends[2 * shard], ends[2 * shard + 1]
            mark = marks.get(str(shard).encode())
            trimmed = sequence_of(mark) if mark else 0
            newest = sequence_of(last[0][0]) if last else trimmed
            out.append((trimmed, sequence_of(first[0][0]) if first else newest + 1, newest))
        return out

    async def describe_stream(self, namespace: str, stream: str) -> StreamDescription:
        self._infos.forget(namespace, stream)
        found = await self._infos.stream(namespace, stream)
        bounds = await self._bounds(namespace, stream, found.shards)
        return stream_description(namespace, stream, bounds, found.retention_seconds)

    async def delete_stream(self, namespace: str, stream: str) -> None:
        check_stream(namespace, stream)
        self._infos.forget(namespace, stream)
        keys, prefixes = self._scoped_keys(namespace, stream)
        # One script over the stored shape, whatever this server cached of it.
        with self._mapped():
            deleted: Any = await self._delete(keys=keys, args=[*prefixes, stream])
        if not deleted:
            raise stream_not_found(namespace, stream)

    async def list_namespaces(self) -> list[str]:
        """The namespaces that hold at least one stream, sorted (a SCAN of the name sets)."""
        names = set()
        with self._mapped():
            async for key in self.client.scan_iter(match=f"{self.prefix}n:*", count=500):
                names.add(key.decode()[len(self.prefix) + 2 :])
        return sorted(names)

    async def list_streams(self, namespace: str) -> list[str]:
        with self._mapped():
            names: Any = await self.client.smembers(f"{self.prefix}n:{namespace}")
        return sorted(n.decode() for n in names)

    # -- records ----------------------------------------------------------------------

    async def append(
        self, namespace: str, stream: str, records: Sequence[AppendRecord]
    ) -> list[tuple[int, int]]:
        await self._infos.stream(namespace, stream)  # names checked, StreamNotFound first
        check_records(records)
        if not records:
            return []

        async def attempt() -> list[tuple[int, int]]:
            found = await self._infos.stream(namespace, stream)
            count = found.shards
            placed = [shard_of(r, count) for r in records]
            keys = [self._shard_key(namespace, stream, shard) for shard in range(count)]
            keys.append(self._meta(namespace, stream))
            args: list[bytes | str] = list(found.same)
            for record, shard in zip(records, placed, strict=True):
                args += (_SHARD_ARG[shard], record.partition_key, bytes(record.data))
            # One script call, not a MULTI/EXEC of one XADD per record: a script runs
            # atomically as the transaction did, and its one reply replaces one parsed reply
            # per record (the QUEUED acknowledgements), which was most of redis-py's append
            # time. The ids come back as one space-joined string: one reply to parse instead
            # of one per record. None: the stream is no longer the one cached.
            with self._mapped():
                joined: Any = await self._append(keys=keys, args=args)
            if joined is None:
                raise StaleStream
            ids = joined.decode().split(" ")
            return [(shard, sequence_of(i)) for shard, i in zip(placed, ids, strict=True)]

        # Another server may have deleted the stream, or made it again with another shape,
        # since this one cached it: nothing went in, so it looks again and places the batch
        # afresh, once.
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
        kind, value = position.kind, position.value
        start = {
            PositionKind.TRIM_HORIZON: "-",
            PositionKind.AT_SEQUENCE_NUMBER: id_of(value),
            PositionKind.AFTER_SEQUENCE_NUMBER: "(" + id_of(value),
            PositionKind.AT_TIMESTAMP: f"{-(-value // _TICKS_PER_MS)}-0",
        }.get(kind)
        keys = [
            self._shard_key(namespace, stream, shard),
            self._trims(namespace, stream),
            self._meta(namespace, stream),
        ]

        async def attempt() -> tuple[_Info, int, int, list[StoredRecord]]:
            found = await self._infos.shard(namespace, stream, shard)
            read = await self._run_read(found, keys, shard, start or "", limit, max_bytes)
            return found, *read

        # Stale: another server deleted the stream or made it again since this one cached it.
        found, trimmed, last, records = await fresh_retry(
            attempt, self._fresh(namespace, stream), namespace, stream
        )
        if kind is PositionKind.AT_TIMESTAMP:
            bound = records[0].sequence - 1 if records else last
        else:
            check_floor(position, found.floor)
            bound = start_after(position, trimmed, last)
        if not records and wait_seconds > 0:
            # XREAD only says that something arrived (one entry, whatever its size); the read
            # script then takes what fits the budget.
            with self._mapped():
                woken: Any = await self.client.xread(
                    {keys[0]: id_of(bound)}, count=1, block=max(1, int(wait_seconds * 1000))
                )
            if woken:
                # Stale now: the stream went during the wait; the next read finds out.
                with contextlib.suppress(StaleStream):
                    _, last, records = await self._run_read(
                        found, keys, shard, "(" + id_of(bound), limit, max_bytes
                    )
        return read_result(records, bound, _time(last))

    async def _run_read(
        self, found: _Info, keys: list[str], shard: int, start: str, limit: int, max_bytes: int
    ) -> tuple[int, int, list[StoredRecord]]:
        """The read script's answer: the trim mark, the last sequence, and the records from
        ``start`` ('' for none) within ``limit`` and ``max_bytes``; StaleStream when the
        stream is no longer the ``found`` one."""
        args = [*found.same, str(shard), start, limit, max_bytes, MAX_RECORD_BYTES]
        with self._mapped():
            answer: Any = await self._read(keys=keys, args=args)
        if answer is None:
            raise StaleStream
        mark, newest, ids, lengths, body = answer
        trimmed = sequence_of(mark) if mark else 0
        last = sequence_of(newest) if newest else trimmed
        return trimmed, last, _unpack(shard, ids, lengths, body)

    async def trim(self, namespace: str, stream: str) -> int:
        async def attempt() -> int:
            found = await self._infos.stream(namespace, stream)
            if found.retention_seconds is None:
                return 0
            cutoff_ms = kronos_time_now() // _TICKS_PER_MS - found.retention_seconds * 1000
            if cutoff_ms <= 0:
                return 0  # a retention reaching back before 1970 keeps every record
            dropped = 0
            for shard in range(found.shards):
                keys = [
                    self._shard_key(namespace, stream, shard),
                    self._trims(namespace, stream),
                    self._meta(namespace, stream),
                ]
                with self._mapped():
                    answer: Any = await self._trim(
                        keys=keys, args=[*found.same, f"{cutoff_ms}-0", str(shard)]
                    )
                if answer is None:
                    raise StaleStream
                dropped += int(answer)
            return dropped

        return await fresh_retry(attempt, self._fresh(namespace, stream), namespace, stream)

    # -- consumer groups ----------------------------------------------------------------

    async def _remember_group(self, namespace: str, stream: str, group: str) -> None:
        await self.client.sadd(f"{self.prefix}g:{namespace}:{stream}", group)

    async def get_checkpoints(self, namespace: str, stream: str, group: str) -> dict[int, int]:
        await self._infos.stream(namespace, stream)
        with self._mapped():
            held: Any = await self.client.hgetall(self._group_key("c", namespace, stream, group))
        return {int(k): int(v) for k, v in held.items()}

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
        bounds = await self._bounds(namespace, stream, found.shards)
        check_checkpoint_end(sequence, bounds[shard][2])
        key = self._group_key("c", namespace, stream, group)
        with self._mapped():
            await self._remember_group(namespace, stream, group)
            if expected is None:
                await self.client.hset(key, str(shard), str(sequence))
                return True
            done: Any = await self._cas(keys=[key], args=[str(shard), expected, str(sequence)])
        return bool(done)

    async def get_leases(self, namespace: str, stream: str, group: str) -> dict[int, Lease]:
        await self._infos.stream(namespace, stream)
        with self._mapped():
            held: Any = await self.client.hgetall(self._group_key("l", namespace, stream, group))
        return {int(k): lease_from_text(int(k), v.decode()) for k, v in held.items()}

    async def lease_time(self, namespace: str, stream: str) -> int:
        await self._infos.stream(namespace, stream)
        with self._mapped():
            seconds, micros = await self.client.time()
        return int(seconds) * 10_000_000 + int(micros) * 10

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
        await self._infos.shard(namespace, stream, shard)
        key = self._group_key("l", namespace, stream, group)
        # The owner part of lease_text (version and expiry come from the script).
        text = lease_text(Lease(shard, owner, 0, 0, claimant)).split("|", 2)[2]
        with self._mapped():
            await self._remember_group(namespace, stream, group)
            expires: Any = await self._lease(
                keys=[key], args=[str(shard), expected_version, text, "" if ttl is None else ttl]
            )
        if expires is None:
            return None
        return granted_lease(shard, owner, int(expires), expected_version, claimant)
