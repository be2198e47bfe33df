"""One statement that numbers a batch and inserts it: how both PostgreSQL stores write rows.

A shard's ``aion_shards`` row lock orders its sequence numbers: it is taken by the
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` that adds the batch's count to ``last_seq`` and
held until commit, so that a reader never sees sequence ``n + 1`` before ``n`` commits (a
reader past a gap would skip the rows that fill it later). What matters for parallel writers
is how long it is held. Here the numbering and the insert are one statement, the rows travel as
arrays with the statement, and the store sends ``COMMIT`` in the same pipeline
(``PostgresEventStore.run(…, pipeline=True)``): the lock lives for the insert and the commit
on the server, never for a client round trip, nor for the encoding of rows, nor while the
client's event loop is busy elsewhere. Shards are locked in ascending order, so two writers
cannot deadlock.

The statement refuses the whole batch (returns no rows, inserts none) when the stream's row no
longer has the id and shard count the writer placed the batch with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aion.storage.placement import shard_counts
from aion.storage.schema import EVENTS_TABLE, SHARDS_TABLE, STREAMS_TABLE

__all__ = ["SEQUENCED_INSERT", "SequencedBatch"]

SEQUENCED_INSERT = f"""
WITH counts AS (
    SELECT s, n FROM unnest(%(cs)b::int[], %(cn)b::bigint[]) AS c(s, n)
), alloc AS (
    INSERT INTO {SHARDS_TABLE} AS sh (stream_id, shard, last_seq)
    SELECT st.id, c.s, c.n FROM counts c
    JOIN {STREAMS_TABLE} st ON st.id = %(sid)s AND st.shards = %(shards)s
    ORDER BY c.s
    ON CONFLICT (stream_id, shard) DO UPDATE SET last_seq = sh.last_seq + EXCLUDED.last_seq
    RETURNING shard, last_seq
), rows AS (
    INSERT INTO {EVENTS_TABLE} (stream_id, k, time, shard, seq, partition_key, payload, kind)
    SELECT %(sid)s, r.k, r.t, r.s, a.last_seq - c.n + r.i, r.pk, r.p, %(kind)s
    FROM unnest(%(k)b::bytea[], %(t)b::bigint[], %(s)b::int[], %(i)b::bigint[],
                %(pk)b::text[], %(p)b::bytea[]) AS r(k, t, s, i, pk, p)
    JOIN alloc a ON a.shard = r.s
    JOIN counts c ON c.s = r.s
)
SELECT shard, last_seq FROM alloc
"""
"""Parameters: those of :meth:`SequencedBatch.params`; returns ``(shard, last_seq)`` per shard
of the batch, or no row when the stream's row does not match."""


@dataclass(frozen=True, slots=True)
class SequencedBatch:
    """A batch placed on shards, as the arrays the statement takes."""

    stream_id: int
    shards: int
    placed: Sequence[int]
    keys: Sequence[bytes]
    times: Sequence[int]
    partition_keys: Sequence[str | None]
    payloads: Sequence[bytes]
    kind: int

    def params(self) -> dict[str, Any]:
        counts = sorted(shard_counts(self.placed).items())
        # Each row's position within its shard's part of the batch (1, 2, …): its sequence
        # number is the shard's ``last_seq`` before the batch plus that position.
        taken = dict.fromkeys((s for s, _ in counts), 0)
        positions = []
        for shard in self.placed:
            taken[shard] += 1
            positions.append(taken[shard])
        return {
            "cs": [s for s, _ in counts],
            "cn": [n for _, n in counts],
            "sid": self.stream_id,
            "shards": self.shards,
            "kind": self.kind,
            "k": list(self.keys),
            "t": list(self.times),
            "s": list(self.placed),
            "i": positions,
            "pk": list(self.partition_keys),
            "p": list(self.payloads),
        }

    @property
    def shard_count(self) -> int:
        """How many shards the batch touches (rows the statement returns when it applies)."""
        return len(set(self.placed))
