"""A consumer-group worker process for the crash and clock tests:
``python -m tests.support.group_worker URL NS STREAM GROUP WORKER OUT [CLOCK_OFFSET [LEASE]]``.

It appends one line per handled record (its data) to OUT, flushed before the checkpoint can
happen, and the shards it holds to OUT.shards after every heartbeat. CLOCK_OFFSET (seconds)
runs the process's wall clock that far off, as a server whose clock is wrong; LEASE is the
lease in seconds (1.5 by default). It handles
batches of :data:`BATCH` records; on SIGTERM it stops cleanly (checkpoints and leaves).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from aion.streams.groups.consumer import GroupConsumer
from aion.streams.protocol import StoredRecord
from tests.support.clock import shift_wall_clock
from tests.support.stream_logs import open_log

BATCH = 50


async def main(
    url: str, ns: str, stream: str, group: str, worker: str, out: str, lease: float = 1.5
) -> None:
    log = open_log(url)
    await log.open()
    sink = Path(out).open("a", encoding="utf-8")  # noqa: SIM115 - open for the process' life

    async def handle(record: StoredRecord) -> None:
        sink.write(record.data.decode() + "\n")
        sink.flush()

    consumer = GroupConsumer(
        log, ns, stream, group, worker, handle, lease_seconds=lease, batch=BATCH, wait_seconds=0.2
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, consumer.stop)
    runner = asyncio.create_task(consumer.run())
    shards_file = Path(out + ".shards")
    partial = Path(out + ".shards.partial")
    while not runner.done():
        # Written aside and renamed: a reader never sees a half-written list.
        partial.write_text(" ".join(map(str, consumer.shards)))
        partial.replace(shards_file)
        await asyncio.sleep(0.1)
    await runner
    await log.close()


if __name__ == "__main__":
    if len(sys.argv) > 7:
        shift_wall_clock(float(sys.argv[7]))
    lease = float(sys.argv[8]) if len(sys.argv) > 8 else 1.5
    asyncio.run(main(*sys.argv[1:7], lease=lease))
