"""Reading several shards of a stream as one async iterator (Triton's combined iterator, done
right): one fetching task per shard long-polls into a small buffer, and the iterator hands
out buffered records round-robin over the shards, so a busy shard cannot starve a quiet one.
``stop()`` ends the fetching at once; iteration then drains what was already fetched and ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Mapping, Sequence

from aion.streams.protocol import (
    TRIM_HORIZON,
    Position,
    SequenceTrimmed,
    StoredRecord,
    StreamLog,
)

__all__ = ["ShardReader"]


class ShardReader:
    """Records of ``shards`` (all when None) from ``position`` (one for all, or per shard).

    Use as ``async with ShardReader(...) as reader: async for record in reader: ...``.
    ``delivered`` maps each shard to the sequence of the last record handed out, the value to
    checkpoint once that record is processed. If a shard's next position was trimmed away
    meanwhile (the reader fell behind retention), it goes on from TRIM_HORIZON and counts the
    event in ``trim_restarts``.
    """

    def __init__(
        self,
        log: StreamLog,
        namespace: str,
        stream: str,
        shards: Sequence[int] | None = None,
        position: Position | Mapping[int, Position] = TRIM_HORIZON,
        batch: int = 500,
        wait_seconds: float = 1.0,
    ) -> None:
        self.log = log
        self.namespace = namespace
        self.stream = stream
        self._wanted = list(shards) if shards is not None else None
        self._position = position
        self.batch = batch
        self.wait_seconds = wait_seconds
        self.delivered: dict[int, int] = {}
        self.trim_restarts = 0
        self._buffers: dict[int, deque[StoredRecord]] = {}
        self._order: list[int] = []
        self._turn = 0
        self._ready = asyncio.Event()
        self._room: dict[int, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._failure: BaseException | None = None
        self._stopped = False

    async def start(self) -> None:
        """Resolve the shards and start fetching."""
        if self._wanted is None:
            described = await self.log.describe_stream(self.namespace, self.stream)
            self._wanted = [s.shard for s in described.shards]
        self._order = list(self._wanted)
        for shard in self._order:
            self._buffers[shard] = deque()
            self._room[shard] = asyncio.Event()
            self._room[shard].set()
            start = (
                self._position.get(shard, TRIM_HORIZON)
                if isinstance(self._position, Mapping)
                else self._position
            )
            self._tasks.append(asyncio.create_task(self._fetch(shard, start)))

    async def __aenter__(self) -> ShardReader:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Fetch nothing more; iteration drains the buffers and ends."""
        self._stopped = True
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._ready.set()

    async def _fetch(self, shard: int, position: Position) -> None:
        buffer = self._buffers[shard]
        try:
            while not self._stopped:
                await self._room[shard].wait()
                try:
                    result = await self.log.read(
                        self.namespace, self.stream, shard, position, self.batch, self.wait_seconds
                    )
                except SequenceTrimmed:
                    self.trim_restarts += 1
                    position = TRIM_HORIZON
                    continue
                position = result.next_position
                if result.records:
                    buffer.extend(result.records)
                    if len(buffer) >= self.batch:
                        self._room[shard].clear()
                    self._ready.set()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # surfaced to the iterating task
            self._failure = exc
            self._ready.set()

    @property
    def buffered(self) -> dict[int, int]:
        """How many fetched records each shard holds that were not handed out yet."""
        return {shard: len(buffer) for shard, buffer in self._buffers.items()}

    def __aiter__(self) -> ShardReader:
        return self

    async def __anext__(self) -> StoredRecord:
        while True:
            record = self._next_buffered()
            if record is not None:
                return record
            if self._failure is not None:
                failure, self._failure = self._failure, None
                await self.stop()
                raise failure
            if self._stopped:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()

    def _next_buffered(self) -> StoredRecord | None:
        # Take one record from the next non-empty shard after the last one served.
        count = len(self._order)
        for step in range(count):
            shard = self._order[(self._turn + step) % count]
            buffer = self._buffers[shard]
            if buffer:
                self._turn = (self._turn + step + 1) % count
                record = buffer.popleft()
                if len(buffer) < self.batch:
                    self._room[shard].set()
                self.delivered[shard] = record.sequence
                return record
        return None
