"""Where a batch of events goes in a sharded stream: shard per event, then sequence numbers,
then the table rows. Pure: the SQL stores call these inside their write transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any

from aion.core.events import EventPage
from aion.core.sharding import shard_for_key

__all__ = ["assign_shards", "event_rows", "sequence_numbers", "shard_counts"]


def assign_shards(page: EventPage, shards: int) -> Sequence[int]:
    """The shard of each event: by its partition key, or by its id when it has none."""
    if shards == 1:
        return [0] * len(page)
    pks = page.partition_keys or [None] * len(page)
    return [
        shard_for_key(pk if pk is not None else key.hex(), shards)
        for key, pk in zip(page.keys, pks, strict=True)
    ]


def shard_counts(placed: Sequence[int]) -> dict[int, int]:
    """How many events each shard receives."""
    return dict(Counter(placed))


def sequence_numbers(placed: Sequence[int], last_seq_after: Mapping[int, int]) -> list[int]:
    """Sequence numbers in arrival order per shard, given each shard's last number after the
    batch (as ``UPDATE … SET last_seq = last_seq + n RETURNING last_seq`` gives it)."""
    if len(last_seq_after) == 1:
        # One shard (the common case): the numbers are a plain range.
        (last,) = last_seq_after.values()
        return list(range(last - len(placed) + 1, last + 1))
    counts = shard_counts(placed)
    next_seq = {shard: last_seq_after[shard] - n + 1 for shard, n in counts.items()}
    out = []
    for shard in placed:
        out.append(next_seq[shard])
        next_seq[shard] += 1
    return out


def event_rows(
    stream_id: int, page: EventPage, placed: Sequence[int], seqs: Sequence[int]
) -> Iterable[tuple[Any, ...]]:
    """Rows ``(stream_id, k, time, shard, seq, partition_key, payload)``, zipped in C."""
    pks: Iterable[str | None] = (
        page.partition_keys if page.partition_keys is not None else repeat(None)
    )
    return zip(repeat(stream_id), page.keys, page.times, placed, seqs, pks, page.payloads)
