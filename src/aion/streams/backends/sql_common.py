"""What the SQLite and PostgreSQL StreamLogs share: a stream's row, the row form of a record,
how a read takes rows within its byte budget, and the waiter that makes long-polls wake on an
append.

A StreamLog record is one ``aion_events`` row with ``kind = RECORD_KIND``. Its ``payload`` is
a JSON event, ``{"@time": t, "@id": "<time-uuid>", "partition_key": "...", "data": "<base64>"}``,
so the Kronos time API returns it as an ordinary event (the bytes in standard base64, the only
lossless way to put arbitrary bytes in JSON), and the StreamLog decodes it back to the exact
bytes. An event written through the EventStore (``kind = EVENT_KIND``) reads through the
StreamLog with its JSON payload as the record's data and its partition key (or ``""``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from aion.core.ids import IdMinter, UUIDType, sort_key_for_time
from aion.storage.schema import RECORD_KIND
from aion.streams.protocol import AppendRecord, StoredRecord
from aion.streams.rules import ReadBudget, StaleStream, fresh_retry, retention_cutoff

__all__ = [
    "LongPoll",
    "RecordRow",
    "StaleStream",
    "StreamRow",
    "decode_rows",
    "encode_records",
    "fresh_retry",
    "take_rows",
    "trim_key",
]

_POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class StreamRow:
    """A stream's ``aion_streams`` row: its id (``stream_id`` in the other tables), shard
    count and retention (None: keep forever)."""

    sid: int
    shards: int
    retention_seconds: int | None


class _Envelope(msgspec.Struct, frozen=True):
    """The JSON event a record is kept as; field names are part of the time API's output."""

    time: int = msgspec.field(name="@time")
    id: str = msgspec.field(name="@id")
    partition_key: str = ""
    data: bytes = b""


class _DataOnly(msgspec.Struct, frozen=True):
    data: bytes = b""


_encode = msgspec.json.Encoder().encode
_decode_datas = msgspec.json.Decoder(list[_DataOnly]).decode

RecordRow = tuple[bytes, int, str, bytes]
"""``(sort key, arrival kronos time, partition key, JSON payload)`` for one appended record."""


def encode_records(records: Sequence[AppendRecord], now: int) -> list[RecordRow]:
    """The rows for a batch arriving at ``now``: each gets a fresh time-UUID of that time.

    One minter per call: it draws the random halves of the whole batch from one ``urandom``
    and formats the shared time half once (this was most of the append cost), and a fresh one
    per call is safe whichever thread the store runs the write on.
    """
    mint = IdMinter().mint
    envelope = _Envelope
    rows: list[RecordRow] = []
    append = rows.append
    for record in records:
        key, event_id = mint(now)
        pk = record.partition_key
        append((key, now, pk, _encode(envelope(now, event_id, pk, bytes(record.data)))))
    return rows


def trim_key(retention_seconds: int, now: int) -> bytes:
    """The sort key that trimming deletes below (``k < key``): the lowest key of the retention
    cutoff time, so every row that arrived before the cutoff goes."""
    return sort_key_for_time(retention_cutoff(retention_seconds, now), UUIDType.LOWEST)


def decode_rows(shard: int, rows: Sequence[tuple[Any, ...]]) -> list[StoredRecord]:
    """Stored rows ``(seq, partition key, payload, time, kind)`` as the records the StreamLog
    returns. The record envelopes are joined into one JSON array and decoded in one call,
    which costs a fraction of one decoder call per row."""
    envelopes = [r[2] for r in rows if r[4] == RECORD_KIND]
    datas = iter(_decode_datas(b"[" + b",".join(envelopes) + b"]") if envelopes else ())
    return [
        StoredRecord(
            shard,
            int(seq),
            pk or "",
            next(datas).data if kind == RECORD_KIND else bytes(payload),
            int(t),
        )
        for seq, pk, payload, t, kind in rows
    ]


def take_rows(
    shard: int, rows: Iterable[tuple[Any, ...]], budget: ReadBudget
) -> tuple[list[StoredRecord], bool]:
    """The records of stored rows ``(seq, partition key, payload, time, kind)``, in order, as
    long as ``budget`` admits them; and whether the budget stopped the read (False: the rows
    ran out first). ``rows`` should hold no more than the budget's records (the query's LIMIT).

    ``rows`` is pulled lazily (a cursor). Rows are decoded in runs, a run ending once its
    stored payloads add up to what the budget has left: a record's data is never longer than
    its payload (the payload holds it, or its base64), so a run cannot hold more than the
    budget's worth plus one row, and no row after that is ever fetched.
    """
    taken: list[StoredRecord] = []
    run: list[tuple[Any, ...]] = []
    run_bytes = 0
    bytes_left = budget.bytes_left

    def admit_run() -> bool:
        records = decode_rows(shard, run)
        count = budget.admit_many([len(r.data) for r in records])
        taken.extend(records[:count])
        run.clear()
        return count == len(records) and not budget.full

    add = run.append
    for row in rows:
        add(row)
        run_bytes += len(row[2])
        if run_bytes >= bytes_left:
            if not admit_run():
                return taken, True
            run_bytes = 0
            bytes_left = budget.bytes_left
    if run and not admit_run():
        return taken, True
    return taken, budget.full


class LongPoll:
    """Wakes readers when this process appends; polls for appends by other processes.

    ``appended()`` resolves the futures of in-process waiters at once. A waiter re-checks with
    ``probe`` every 50 ms as well, because another process writing the same tables cannot
    wake it. (Plain futures rather than an asyncio.Condition: cancelling a wait_for around
    Condition.wait can break the condition's lock on Python 3.11.)
    """

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    async def appended(self) -> None:
        """Tell every waiter of this process to look again."""
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, probe: Callable[[], Awaitable[bool]], seconds: float) -> None:
        """Return once ``probe()`` is true or ``seconds`` have passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            # Registered before probing, so an append racing with the probe still wakes us.
            waiter = loop.create_future()
            self._waiters.add(waiter)
            try:
                if await probe():
                    return
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                await asyncio.wait({waiter}, timeout=min(remaining, _POLL_SECONDS))
            finally:
                self._waiters.discard(waiter)
