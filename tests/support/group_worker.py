"""A consumer-group worker process for the crash tests:
``python -m tests.support.group_worker URL NS STREAM GROUP WORKER OUT``.

It appends one line per handled record (its data) to OUT, flushed before the checkpoint can
happen, and the shards it holds to OUT.shards after every heartbeat.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aion.streams.groups.consumer import GroupConsumer
from aion.streams.protocol import StoredRecord
from tests.support.stream_logs import open_log


async def main(url: str, ns: str, stream: str, group: str, worker: str, out: str) -> None:
    log = open_log(url)
    await log.open()
    sink = Path(out).open("a", encoding="utf-8")  # noqa: SIM115 - open for the process' life

    async def handle(record: StoredRecord) -> None:
        sink.write(record.data.decode() + "\n")
        sink.flush()

    consumer = GroupConsumer(
        log, ns, stream, group, worker, handle, lease_seconds=1.5, batch=50, wait_seconds=0.2
    )
    runner = asyncio.create_task(consumer.run())
    shards_file = Path(out + ".shards")
    partial = Path(out + ".shards.partial")
    while not runner.done():
        # Written aside and renamed: a reader never sees a half-written list.
        partial.write_text(" ".join(map(str, consumer.shards)))
        partial.replace(shards_file)
        await asyncio.sleep(0.1)
    await runner


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
