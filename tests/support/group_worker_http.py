"""A consumer-group worker process over HTTP for the crash test:
``python -m tests.support.group_worker_http URL STREAM GROUP WORKER OUT``.

It appends one line per handled record (its data) to OUT, flushed before the checkpoint can
happen, and writes the shards it owns to OUT.shards every 50 ms. SIGTERM stops it cleanly
(it leaves the group).
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from aion.client.streams import ConsumerGroupWorker, StreamRecord, StreamsClient


def main(url: str, stream: str, group: str, worker_name: str, out: str) -> None:
    sink = Path(out).open("a", encoding="utf-8")  # noqa: SIM115 - open for the process' life

    def handle(record: StreamRecord) -> None:
        sink.write(record.data.decode() + "\n")
        sink.flush()

    with StreamsClient(url) as client:
        worker = ConsumerGroupWorker(
            client, stream, group, worker_name, handle,
            lease_seconds=1.5, batch=50, wait_seconds=0.2,
        )  # fmt: skip
        signal.signal(signal.SIGTERM, lambda *_: worker.stop())
        runner = threading.Thread(target=worker.run)
        runner.start()
        shards_file = Path(out + ".shards")
        partial = Path(out + ".shards.partial")
        while runner.is_alive():
            # Written aside and renamed: a reader never sees a half-written list.
            partial.write_text(" ".join(map(str, worker.shards)))
            partial.replace(shards_file)
            runner.join(0.05)


if __name__ == "__main__":
    main(*sys.argv[1:6])
