"""Triton's API (``postmates/triton-python``) over Aion's native streams client.

Same names and behaviour as Triton: ``load_config``, ``get_stream``, ``Stream.put(**record)``
returning ``(shard_id, seq_num)``, ``put_many``, the ``build_iterator_*`` family, ``Record``,
and the errors. Records are msgpack maps, as Triton wrote them. Fixed on the way:

- a config entry without ``name`` or ``partition_key`` raises :class:`InvalidConfigurationError`
  (Triton raised AttributeError), and so does an unreadable file (Triton returned None);
- iterators work with Python 3 ``for`` (Triton only had a py2 ``next``);
- polling long-polls the server instead of sleeping one second between rounds;
- checkpoints live in Aion's StreamLog (per consumer group = Triton client name), not Postgres;
- ``build_iterator_from_seqnum`` takes a shard number, as Triton's README shows (a shard id
  works too), and refuses a sequence number of another shard: like Kinesis's, the sequence
  numbers handed out here carry their shard (:func:`seq_num_for`); a plain per-shard
  sequence number of the native API is accepted as well;
- a stream that does not exist is created by its first put (the server's
  ``default_stream_shards``, or the config's ``shards``).

Config keys per alias: ``name``, ``partition_key`` (required), ``url`` (default ``$AION_URL``
or ``http://127.0.0.1:8151``), ``api_key`` (default ``$AION_API_KEY``; needed by a server that
has API keys), ``shards`` (create the stream with this many shards on first use),
``namespace``, ``client_name`` (the checkpoint group); Triton's ``region`` is ignored. The
errors are defined in :mod:`aion.errors` and exported here under Triton's names.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgpack
import yaml

from aion.client.http import API_KEY_ENV, DEFAULT_URL, URL_ENV
from aion.client.streams import (
    ConsumerGroupWorker,
    ReadBatch,
    StreamRecord,
    StreamsClient,
)
from aion.errors import (
    AionError,
    BackendUnavailable,
    EndOfShardError,
    InvalidConfigurationError,
    KinesisError,
    KinesisPutManyError,
    RequestError,
    ResponseError,
    ShardNotFoundError,
    StreamNotConfiguredError,
    TritonCheckpointError,
    TritonError,
    ValidationError,
)
from aion.streams.protocol import PositionKind

__all__ = [
    "KINESIS_MAX_LENGTH",
    "CombinedStreamIterator",
    "EndOfShardError",
    "InvalidConfigurationError",
    "KinesisError",
    "KinesisPutManyError",
    "Record",
    "ShardNotFoundError",
    "Stream",
    "StreamIterator",
    "StreamNotConfiguredError",
    "TritonCheckpointError",
    "TritonError",
    "ValidationError",
    "get_stream",
    "load_config",
    "msgpack_encode_default",
    "seq_num_for",
    "split_seq_num",
]

log = logging.getLogger(__name__)

KINESIS_MAX_LENGTH = 500
"""Records per ``put_many`` request, as Triton chunked them."""

SHARD_SEQUENCE_BASE = 10**19
"""A Triton sequence number is ``(shard + 1) * SHARD_SEQUENCE_BASE + sequence``: above any
native sequence number (at most 2^63 - 1), so the two kinds never collide."""


def seq_num_for(shard: int, sequence: int) -> str:
    """The Triton sequence number (a decimal string, as Kinesis's) of ``sequence`` on shard
    number ``shard``."""
    return str((shard + 1) * SHARD_SEQUENCE_BASE + sequence)


def split_seq_num(seq_num: str | int) -> tuple[int | None, int]:
    """``(shard number, sequence)`` of a Triton sequence number; ``(None, sequence)`` for a
    plain native sequence number. Anything else raises ``ValidationError`` (``seq_num``)."""
    text = str(seq_num)
    if not text.isascii() or not text.isdigit():
        raise ValidationError(f"seq_num must be a decimal sequence number, not {text!r}", "seq_num")
    number = int(text)
    if number < SHARD_SEQUENCE_BASE:
        return None, number
    return number // SHARD_SEQUENCE_BASE - 1, number % SHARD_SEQUENCE_BASE


def load_config(
    path: str | Path, default_url: str | None = None, default_api_key: str | None = None
) -> dict[str, dict[str, Any]]:
    """Read a Triton YAML file: alias → ``{name, partition_key, url, api_key, ...}``.

    ``url`` defaults to ``default_url``, else ``$AION_URL``, else ``http://127.0.0.1:8151``;
    ``api_key`` to ``default_api_key``, else ``$AION_API_KEY``, else none.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidConfigurationError(f"cannot read Triton config {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise InvalidConfigurationError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidConfigurationError(f"{path} must map stream aliases to settings")
    url = default_url or os.environ.get(URL_ENV) or DEFAULT_URL
    api_key = default_api_key or os.environ.get(API_KEY_ENV)
    config: dict[str, dict[str, Any]] = {}
    for alias, entry in raw.items():
        if not isinstance(entry, dict):
            raise InvalidConfigurationError(f"stream {alias!r} in {path} must be a mapping")
        for key in ("name", "partition_key"):
            if not entry.get(key):
                raise InvalidConfigurationError(f"stream {alias!r} in {path} has no {key!r}")
        config[str(alias)] = {"url": url, "api_key": api_key, **entry}
    return config


def get_stream(alias: str, config: Mapping[str, Mapping[str, Any]]) -> Stream:
    """The :class:`Stream` configured under ``alias`` (its ``api_key``, else
    ``$AION_API_KEY``, goes to the server as a bearer token)."""
    entry = config.get(alias)
    if entry is None:
        raise StreamNotConfiguredError(f"stream {alias!r} is not configured")
    client = StreamsClient(
        entry.get("url") or DEFAULT_URL,
        namespace=entry.get("namespace"),
        api_key=entry.get("api_key") or os.environ.get(API_KEY_ENV),
    )
    return Stream(
        client,
        entry["name"],
        entry["partition_key"],
        shards=entry.get("shards"),
        client_name=entry.get("client_name"),
    )


def msgpack_encode_default(obj: Any) -> Any:
    """Triton's fallback encoder for values msgpack cannot pack."""
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, dt.datetime):
        return obj.isoformat(" ")
    if isinstance(obj, dt.date):
        return obj.strftime("%Y-%m-%d")
    coords = getattr(obj, "coords", None)
    if coords is not None:
        return repr(coords)
    return repr(obj)


def _encode(record: Mapping[str, Any]) -> bytes:
    try:
        packed: bytes = msgpack.packb(record)
    except TypeError:
        packed = msgpack.packb(record, default=msgpack_encode_default)
    return packed


def _transient(exc: AionError) -> bool:
    """Whether a failed request is worth retrying: no answer, a 5xx, or a backend down."""
    if isinstance(exc, ResponseError):
        return exc.status >= 500
    return isinstance(exc, RequestError | BackendUnavailable)


class Record:
    """A record read from a stream: ``shard_id``, ``seq_num`` (decimal string), ``data``."""

    __slots__ = ("data", "seq_num", "shard_id")

    def __init__(self, shard_id: str, seq_num: str, data: Any) -> None:
        self.shard_id = shard_id
        self.seq_num = seq_num
        self.data = data

    @classmethod
    def from_stored(cls, shard_id: str, record: StreamRecord) -> Record:
        """Decode a msgpack record (as Triton wrote them), else JSON (as other producers
        write); other bytes stay bytes."""
        try:
            data = msgpack.unpackb(record.data, raw=False)
        except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
            try:
                data = json.loads(record.data)
            except (UnicodeDecodeError, ValueError, RecursionError):
                data = record.data
        return cls(shard_id, seq_num_for(record.shard, record.sequence), data)

    @classmethod
    def from_raw_record(cls, shard_id: str, raw_record: Mapping[str, Any]) -> Record:
        """Triton's decoder of a Kinesis ``GetRecords`` record: ``SequenceNumber`` as is,
        ``Data`` (base64 text as boto 2 gave it, or bytes as boto3 gives them) unpacked
        from msgpack."""
        data = raw_record["Data"]
        raw = data if isinstance(data, bytes) else base64.b64decode(data)
        return cls(shard_id, str(raw_record["SequenceNumber"]), msgpack.unpackb(raw, raw=False))

    def __repr__(self) -> str:
        return f"<Record {self.shard_id} {self.seq_num}>"


class Stream:
    """One configured stream: puts and iterators (Triton's ``Stream``)."""

    retry_base_seconds = 0.1
    poll_wait_seconds = 1.0
    read_limit = 1000

    def __init__(
        self,
        client: StreamsClient,
        name: str,
        partition_key: str,
        shards: int | None = None,
        client_name: str | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.partition_key = partition_key
        self.shards = shards
        self.client_name = client_name
        self._shard_ids: list[str] | None = None
        self._created = shards is None

    def _ensure(self) -> None:
        if not self._created and self.shards is not None:
            self.client.create_stream(self.name, self.shards)
            self._created = True

    def _partition_key(self, record: Mapping[str, Any]) -> str:
        try:
            return str(record[self.partition_key])
        except KeyError:
            raise KeyError(self.partition_key) from None

    @property
    def shard_ids(self) -> list[str]:
        """The stream's shard ids, in order (cached); shard numbers index this list."""
        if self._shard_ids is None:
            self._ensure()
            self._shard_ids = [s.shard_id for s in self.client.describe_stream(self.name).shards]
        return self._shard_ids

    def _select_shard_ids(self, shard_nums: Iterable[int] | None) -> list[str]:
        """The ids of the shard numbers given; none (None or empty) means every shard, as in
        Triton."""
        ids = self.shard_ids
        numbers = list(shard_nums or ())
        if not numbers:
            return list(ids)
        selected = []
        for number in numbers:
            if not 0 <= number < len(ids):
                raise ShardNotFoundError(f"stream {self.name!r} has no shard number {number}")
            selected.append(ids[number])
        return selected

    def _with_retries(self, attempt: Any, retries: int) -> Any:
        """``attempt()``, retried on transient failures; any Aion error it ends with is raised
        as :class:`KinesisError` (the original is its ``__cause__``), as Triton's put raised."""
        for n in range(retries + 1):
            try:
                return attempt()
            except TritonError:
                raise
            except AionError as exc:
                if not _transient(exc) or n == retries:
                    raise KinesisError(f"put to {self.name!r} failed: {exc}") from exc
                time.sleep(self.retry_base_seconds * 2**n)
        raise AssertionError("unreachable")

    def put(self, **record: Any) -> tuple[str, str]:
        """Put one record (a msgpack map of the keyword arguments); ``(shard_id, seq_num)``.
        Transient failures are retried twice with backoff."""
        key = self._partition_key(record)
        data = _encode(record)
        self._with_retries(self._ensure, retries=2)
        placed = self._with_retries(lambda: self.client.put(self.name, key, data), retries=2)
        return placed.shard_id, seq_num_for(placed.shard, placed.sequence)

    def put_many(self, records: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
        """Put records in requests of at most 500; a failed request is retried (3 rounds with
        backoff), then :class:`KinesisPutManyError` carries what could not be stored.
        Results are in success order: retried records come last."""
        pending = [dict(r) for r in records]
        encoded = [(self._partition_key(r), _encode(r)) for r in pending]
        self._with_retries(self._ensure, retries=2)
        results: list[tuple[str, str]] = []
        for attempt in range(4):
            failed: list[int] = []
            for start in range(0, len(pending), KINESIS_MAX_LENGTH):
                chunk = list(range(start, min(start + KINESIS_MAX_LENGTH, len(pending))))
                try:
                    placed = self.client.put_many(self.name, [encoded[i] for i in chunk])
                except AionError as exc:
                    if not _transient(exc):
                        raise KinesisError(f"put_many to {self.name!r} failed: {exc}") from exc
                    log.warning("put_many to %s failed: %s", self.name, exc)
                    failed.extend(chunk)
                    continue
                results.extend((p.shard_id, seq_num_for(p.shard, p.sequence)) for p in placed)
            if not failed:
                return results
            pending = [pending[i] for i in failed]
            encoded = [encoded[i] for i in failed]
            if attempt < 3:
                time.sleep(self.retry_base_seconds * 2**attempt)
        raise KinesisPutManyError(pending)

    def _combined(self, iterators: list[StreamIterator]) -> CombinedStreamIterator:
        return CombinedStreamIterator(iterators, self.poll_wait_seconds)

    def build_iterator_from_latest(
        self, shard_nums: Iterable[int] | None = None
    ) -> CombinedStreamIterator:
        """Only records put after the first read of each shard."""
        ids = self._select_shard_ids(shard_nums)
        return self._combined([StreamIterator(self, i, PositionKind.LATEST) for i in ids])

    def build_iterator_for_all(
        self, shard_nums: Iterable[int] | None = None
    ) -> CombinedStreamIterator:
        """Every retained record (TRIM_HORIZON)."""
        ids = self._select_shard_ids(shard_nums)
        return self._combined([StreamIterator(self, i, PositionKind.TRIM_HORIZON) for i in ids])

    def _shard_id(self, shard: int | str) -> str:
        """A shard number (an index into :attr:`shard_ids`) or a shard id, as its id."""
        if isinstance(shard, int):
            return self._select_shard_ids([shard])[0]
        if shard not in self.shard_ids:
            raise ShardNotFoundError(f"stream {self.name!r} has no shard {shard!r}")
        return shard

    def build_iterator_from_seqnum(
        self, shard_num: int | str, seq_num: str | int
    ) -> CombinedStreamIterator:
        """The records of one shard after ``seq_num`` (exclusive). The shard is a shard number,
        as in Triton's README, or a shard id; a sequence number handed out for another shard
        is refused (``ValidationError``, field ``seq_num``)."""
        shard_id = self._shard_id(shard_num)
        number = self.shard_ids.index(shard_id)
        owner, sequence = split_seq_num(seq_num)
        if owner is not None and owner != number:
            raise ValidationError(
                f"sequence number {seq_num} belongs to shard {owner} "
                f"({self.shard_ids[owner] if owner < len(self.shard_ids) else 'unknown'}), "
                f"not to shard {number} ({shard_id})",
                "seq_num",
            )
        it = StreamIterator(self, shard_id, PositionKind.AFTER_SEQUENCE_NUMBER, sequence)
        return self._combined([it])

    def build_iterator_from_checkpoint(
        self, shard_nums: Iterable[int] | None = None, client_name: str | None = None
    ) -> CombinedStreamIterator:
        """Per shard, after the checkpoint of ``client_name`` (the consumer group), or from
        TRIM_HORIZON where there is none."""
        group = client_name or self.client_name
        if not group:
            raise TritonCheckpointError("checkpoints need a client name (config client_name)")
        ids = self._select_shard_ids(shard_nums)
        saved = self.client.get_checkpoints(self.name, group)
        iterators = []
        for shard_id in ids:
            seq = saved.get(self.shard_ids.index(shard_id))
            kind = PositionKind.TRIM_HORIZON if seq is None else PositionKind.AFTER_SEQUENCE_NUMBER
            iterators.append(StreamIterator(self, shard_id, kind, seq, group))
        return self._combined(iterators)

    def group_worker(
        self,
        handler: Callable[[Record], None],
        worker: str | None = None,
        client_name: str | None = None,
        lease_seconds: float = 10.0,
    ) -> ConsumerGroupWorker:
        """A worker of consumer group ``client_name`` (Triton left shard splitting across
        workers as a TODO): processes started with the same client name share the shards and
        take over a dead one's; ``handler`` gets each :class:`Record` at least once. Call
        ``run()`` (blocks until ``stop()``). ``worker`` defaults to ``host:pid``."""
        group = client_name or self.client_name
        if not group:
            raise TritonCheckpointError("a consumer group needs a client name (config client_name)")
        ids = self.shard_ids

        def handle(record: StreamRecord) -> None:
            handler(Record.from_stored(ids[record.shard], record))

        name = worker or f"{socket.gethostname()}:{os.getpid()}"
        return ConsumerGroupWorker(
            self.client, self.name, group, name, handle, lease_seconds=lease_seconds
        )


class StreamIterator:
    """The reader of one shard; the first read is lazy (LATEST means "from that read")."""

    def __init__(
        self,
        stream: Stream,
        shard_id: str,
        kind: PositionKind,
        seq_num: int | None = None,
        group: str | None = None,
    ) -> None:
        self.stream = stream
        self.shard_id = shard_id
        self.kind = kind
        self.seq_num = seq_num
        self.group = group
        self.iterator: str | None = None
        self.last_seq_num: str | None = None
        self.behind_latest_secs = 0.0
        self.records: deque[Record] = deque()
        self._empty = True

    def __iter__(self) -> Iterator[Record]:
        return self

    def __next__(self) -> Record:
        """The shard's records one by one, as Triton's: one read when none are left, and the
        iteration ends when that read found nothing (iterate again to read again)."""
        if self._empty:
            self.records.extend(self.fill())
        if not self.records:
            self._empty = True
            raise StopIteration
        self._empty = False
        record = self.records.popleft()
        self.last_seq_num = record.seq_num
        return record

    next = __next__
    """Triton's py2-style name."""

    def fill(self, wait: float = 0.0) -> list[Record]:
        """One read of the shard (long-polling up to ``wait`` seconds)."""
        client, name = self.stream.client, self.stream.name
        if self.iterator is None:
            self.iterator = client.iterator(name, self.shard_id, self.kind, self.seq_num)
        batch: ReadBatch = client.read(name, self.iterator, limit=self.stream.read_limit, wait=wait)
        if not batch.next_iterator:
            raise EndOfShardError(f"shard {self.shard_id} of {name!r} is closed")
        self.iterator = batch.next_iterator
        self.behind_latest_secs = batch.millis_behind_latest / 1000
        return [Record.from_stored(self.shard_id, r) for r in batch.records]

    def checkpoint(self, seq_num: str | None = None) -> None:
        """Store ``seq_num`` (default: the last record returned) as this shard's checkpoint."""
        seq = seq_num or self.last_seq_num
        group = self.group or self.stream.client_name
        if not group:
            raise TritonCheckpointError("checkpoints need a client name (config client_name)")
        if seq is not None:
            shard = self.stream.shard_ids.index(self.shard_id)
            sequence = split_seq_num(seq)[1]
            self.stream.client.set_checkpoint(self.stream.name, group, shard, sequence)


class CombinedStreamIterator:
    """Records of several shards, round-robin: already fetched records first, every shard
    polled in turn (none starves), a long-poll on one shard when a whole round was empty
    (no busy loop), nothing fetched after :meth:`stop`. Never ends on its own."""

    def __init__(self, iterators: list[StreamIterator], poll_wait: float = 1.0) -> None:
        self.iterators = iterators
        self.poll_wait = poll_wait
        self._turn: deque[StreamIterator] = deque(iterators)
        self._fetched: deque[tuple[StreamIterator, Record]] = deque()
        self._empty_in_a_row = 0
        self._stopped = False

    def __iter__(self) -> Iterator[Record]:
        return self

    def __next__(self) -> Record:
        while not self._fetched:
            if self._stopped or not self._turn:
                raise StopIteration
            shard = self._turn[0]
            self._turn.rotate(-1)
            quiet = self._empty_in_a_row >= len(self._turn)
            records = shard.fill(self.poll_wait if quiet else 0.0)
            # After a long-poll, sweep every shard once more without waiting.
            self._empty_in_a_row = 0 if records or quiet else self._empty_in_a_row + 1
            self._fetched.extend((shard, r) for r in records)
        shard, record = self._fetched.popleft()
        shard.last_seq_num = record.seq_num
        return record

    next = __next__
    """Triton's py2-style name."""

    def stop(self) -> None:
        """Fetch nothing more; iteration ends after the records already fetched."""
        self._stopped = True

    def checkpoint(self) -> None:
        """Store, per shard, the last record returned to the caller (at-least-once)."""
        for shard in self.iterators:
            shard.checkpoint()
