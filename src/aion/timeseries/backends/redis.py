"""The Redis backend: Kairos's key layout, native TTLs, pipelined writes, no ``KEYS``.

Keys: ``{prefix}{name}:{interval}:{i_bucket}`` holds a coarse bucket's data (a list, hash,
string or set by type); on a fine interval it holds the SET of resolution buckets and the data
lives at ``{i_key}:{r_bucket}``. Buckets with ``steps`` get an ``EXPIREAT`` at the data-time
expiry. Names are registered in the sorted set ``{prefix}::names`` (score: when the name's last
data expires, ``+inf`` if never), so ``list()`` neither blocks Redis with ``KEYS`` nor splits
key names, and names containing ``:`` are refused instead of corrupting it.

The ``fetch`` hook is Kairos's ``fetch(handle, key)``: queue one command on ``handle`` (a
pipeline) for ``key``; its result is the cell's payload.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from aion.core.redis_urls import sync_redis
from aion.errors import BackendUnavailable, ConfigurationError, ValidationError
from aion.timeseries.protocol import (
    Advance,
    Fetch,
    Kind,
    ReadQuery,
    Rows,
    StoreError,
    WriteBatch,
)

try:
    import redis as redis_py
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ConfigurationError(
        "the Redis timeseries backend needs redis-py: pip install 'aion[redis]'"
    ) from exc

__all__ = ["RedisStore"]

_GLOB = re.compile(r"([*?\[\]\\])")
_CHUNK = 10_000  # commands per pipeline round trip: bounds client memory on huge batches
_REGISTRY = "::names"
_CHECKPOINT = "::checkpoint:"
# One command per histogram bucket instead of one HINCRBY per distinct value: client-side
# command packing, not Redis, is what a pipeline of many small commands spends its time on.
_HINCRBY_MANY = """
for i = 1, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 0
"""


def _glob_escape(text: str) -> str:
    return _GLOB.sub(r"\\\1", text)


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _number(value: Any) -> int | float:
    text = _text(value)
    try:
        return int(text)
    except ValueError:
        return float(text)


def _check_value(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, str | bytes | int | float):
        raise ValidationError(
            f"Redis stores str, bytes, int or float values, not {type(value).__name__} "
            "(convert it with write_func)",
            field="value",
        )


@contextmanager
def _mapped_errors() -> Iterator[None]:
    try:
        yield
    except (redis_py.ConnectionError, redis_py.TimeoutError) as exc:
        raise BackendUnavailable("redis", str(exc)) from exc
    except redis_py.RedisError as exc:
        raise StoreError(f"redis: {exc}") from exc


class RedisStore:
    """A :class:`~aion.timeseries.protocol.TimeseriesStore` on a ``redis.Redis`` client."""

    def __init__(
        self, kind: Kind, client: redis_py.Redis, *, prefix: str = "", owned: bool = False
    ) -> None:
        self.kind = kind
        self.client = client
        self.prefix = prefix if not prefix or prefix.endswith(":") else prefix + ":"
        self._owned = owned
        self._registry = self.prefix + _REGISTRY
        self._hincrby_many = client.register_script(_HINCRBY_MANY)

    @classmethod
    def from_url(
        cls, kind: Kind, url: str, client_config: Mapping[str, Any] | None = None, **options: Any
    ) -> RedisStore:
        """Open a client on ``url`` (``redis://host:port/db``, or Redis Sentinel's
        ``redis+sentinel://host:26379,host2:26379/mymaster/0``) that :meth:`close` releases."""
        client = sync_redis(url, **dict(client_config or {}))
        return cls(kind, client, owned=True, **options)

    def check_name(self, name: str) -> None:
        """Refuse ``:``, which would make key names ambiguous."""
        if ":" in name:
            raise ValidationError(
                f"names and intervals on Redis may not contain ':' ({name!r})", field="name"
            )

    def _i_key(self, name: str, interval: str, i_bucket: int) -> str:
        return f"{self.prefix}{name}:{interval}:{i_bucket}"

    def _validate(self, batch: WriteBatch) -> None:
        kind = self.kind
        for payload in batch.cells.values():
            if kind is Kind.COUNT:
                continue
            if kind is Kind.GAUGE:
                _check_value(payload)
            else:
                for value in payload:
                    _check_value(value)

    def write(self, batch: WriteBatch, *, pipeline: Any = None, **options: Any) -> None:
        """Queue the batch on one non-transactional pipeline.

        With ``pipeline=`` (Kairos's option) the commands go on the caller's pipeline and the
        caller executes it; otherwise they are sent in chunks of 10,000 commands.
        """
        if options:
            raise ValidationError(f"unknown Redis backend options {sorted(options)}")
        self._validate(batch)
        pipe = pipeline if pipeline is not None else self.client.pipeline(transaction=False)
        kind = self.kind
        expire_at = batch.expire_at
        fine_index: dict[str, tuple[set[int], int | None]] = {}
        scores: dict[str, float] = {}
        queued = 0
        with _mapped_errors():
            for cell, payload in batch.cells.items():
                i_key = self._i_key(cell.name, cell.interval, cell.i_bucket)
                expiry = expire_at.get((cell.name, cell.interval, cell.i_bucket))
                if cell.r_bucket is None:
                    key = i_key
                else:
                    key = f"{i_key}:{cell.r_bucket}"
                    fine_index.setdefault(i_key, (set(), expiry))[0].add(cell.r_bucket)
                if kind is Kind.SERIES:
                    pipe.rpush(key, *payload)
                elif kind is Kind.HISTOGRAM:
                    if len(payload) == 1:
                        ((value, count),) = payload.items()
                        pipe.hincrby(key, value, count)
                    else:
                        args = [part for pair in payload.items() for part in pair]
                        self._hincrby_many(keys=[key], args=args, client=pipe)
                elif kind is Kind.COUNT:
                    # INCRBY fails once a float has been added to the key; INCRBYFLOAT
                    # works on both and prints whole totals without a decimal point.
                    pipe.incrbyfloat(key, payload)
                elif kind is Kind.GAUGE:
                    pipe.set(key, payload)
                else:
                    pipe.sadd(key, *payload)
                queued += 1
                if expiry is not None:
                    pipe.expireat(key, expiry)
                    queued += 1
                score = math.inf if expiry is None else float(expiry)
                scores[cell.name] = max(scores.get(cell.name, score), score)
                if pipeline is None and queued >= _CHUNK:
                    pipe.execute()
                    queued = 0
            for i_key, (r_buckets, expiry) in fine_index.items():
                pipe.sadd(i_key, *r_buckets)
                if expiry is not None:
                    pipe.expireat(i_key, expiry)
            if scores:
                pipe.zadd(self._registry, scores, gt=True)
            if pipeline is None:
                pipe.execute()

    def write_checkpointed(self, batch: WriteBatch, advance: Advance) -> bool:
        """``WATCH`` the checkpoint key, compare it, then ``MULTI`` the writes and the new
        checkpoint and ``EXEC``: all commands or none, and none if the key changed.

        Redis does not roll back a command that fails inside ``EXEC`` (a key of the wrong
        type); that surfaces as a :class:`StoreError` after the other commands applied.
        """
        self._validate(batch)
        key = self.prefix + _CHECKPOINT + advance.key
        with _mapped_errors(), self.client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(key)
                stored = pipe.get(key)
                if (0 if stored is None else int(stored)) != advance.expected:
                    return False
                pipe.multi()
                self.write(batch, pipeline=pipe)
                pipe.set(key, advance.sequence)
                pipe.execute()
            except redis_py.WatchError:
                return False
        return True

    def read_checkpoint(self, key: str) -> int:
        """The stored checkpoint, 0 when none is stored."""
        with _mapped_errors():
            stored = self.client.get(self.prefix + _CHECKPOINT + key)
        return 0 if stored is None else int(stored)

    def _queue_read(self, pipe: Any, key: str) -> None:
        kind = self.kind
        if kind is Kind.SERIES:
            pipe.lrange(key, 0, -1)
        elif kind is Kind.HISTOGRAM:
            pipe.hgetall(key)
        elif kind is Kind.SET:
            pipe.smembers(key)
        else:
            pipe.get(key)

    def _decode(self, raw: Any) -> Any:
        kind = self.kind
        if kind is Kind.SERIES:
            return [_text(v) for v in raw] if raw else None
        if kind is Kind.HISTOGRAM:
            return {_text(k): int(v) for k, v in raw.items()} if raw else None
        if kind is Kind.SET:
            return {_text(v) for v in raw} if raw else None
        if raw is None:
            return None
        return _number(raw) if kind is Kind.COUNT else _text(raw)

    def read(self, query: ReadQuery, fetch: Fetch | None = None) -> Rows:
        """One pipeline for coarse buckets; for fine ones, the index sets first, then the data."""
        i_keys = [self._i_key(query.name, query.interval, b) for b in query.buckets]
        cells: list[tuple[int, int | None, str]] = []
        with _mapped_errors():
            if query.fine:
                pipe = self.client.pipeline(transaction=False)
                for key in i_keys:
                    pipe.smembers(key)
                for bucket, key, members in zip(query.buckets, i_keys, pipe.execute(), strict=True):
                    for member in sorted(int(_text(m)) for m in members):
                        cells.append((bucket, member, f"{key}:{member}"))
            else:
                cells = [(b, None, k) for b, k in zip(query.buckets, i_keys, strict=True)]
            pipe = self.client.pipeline(transaction=False)
            for _, _, key in cells:
                if fetch is not None:
                    fetch(pipe, key)
                else:
                    self._queue_read(pipe, key)
            results = pipe.execute()
        rows: Rows = {}
        for (i_bucket, r_bucket, _), raw in zip(cells, results, strict=True):
            value = raw if fetch is not None else self._decode(raw)
            if value is not None:
                rows.setdefault(i_bucket, {})[r_bucket] = value
        return rows

    def _scan(self, pattern: str) -> Iterator[str]:
        for key in self.client.scan_iter(match=pattern, count=1000):
            yield _text(key)

    def properties(self, name: str, intervals: Sequence[str]) -> dict[str, tuple[int, int]]:
        """First and last buckets found by ``SCAN`` (not ``KEYS``) over the name's keys."""
        out: dict[str, tuple[int, int]] = {}
        with _mapped_errors():
            for interval in intervals:
                head = f"{self.prefix}{name}:{interval}:"
                buckets = [
                    int(key[len(head) :].split(":", 1)[0])
                    for key in self._scan(_glob_escape(head) + "*")
                ]
                if buckets:
                    out[interval] = (min(buckets), max(buckets))
        return out

    def names(self) -> list[str]:
        """Registered names whose data has not all expired."""
        now = time.time()
        with _mapped_errors():
            self.client.zremrangebyscore(self._registry, "-inf", now)
            members = self.client.zrangebyscore(self._registry, f"({now}", "+inf")
        return sorted(_text(m) for m in members)

    def delete(self, name: str) -> None:
        """``UNLINK`` every key of ``name`` found by ``SCAN``, and forget the name."""
        with _mapped_errors():
            batch: list[str] = []
            for key in self._scan(_glob_escape(f"{self.prefix}{name}:") + "*"):
                batch.append(key)
                if len(batch) >= 1000:
                    self.client.unlink(*batch)
                    batch.clear()
            if batch:
                self.client.unlink(*batch)
            self.client.zrem(self._registry, name)

    def delete_all(self) -> None:
        """Delete every registered name, then the registry."""
        with _mapped_errors():
            members = self.client.zrange(self._registry, 0, -1)
        for member in members:
            self.delete(_text(member))
        with _mapped_errors():
            self.client.delete(self._registry)

    def expire(self, name: str, cutoffs: Mapping[str, int]) -> None:
        """Nothing to do: Redis expires buckets itself through their TTLs."""

    def ping(self) -> None:
        """Raise ``BackendUnavailable`` unless Redis answers now (readiness asks)."""
        with _mapped_errors():
            self.client.ping()

    def close(self) -> None:
        """Close the client if this store opened it."""
        if self._owned:
            self.client.close()
