"""A live ``aion serve`` trims streams by their retention on its own (the lifespan starts the
trimmer after the stream log opens)."""

from __future__ import annotations

import time
from pathlib import Path

from aion.client.streams import StreamsClient
from tests.support.procs import running_server


def test_server_trims_a_short_retention_stream_by_itself(tmp_path: Path) -> None:
    config = tmp_path / "aion.toml"
    config.write_text("stream_retention_interval_seconds = 0.2\n", encoding="utf-8")
    with running_server(tmp_path / "data", config=config) as url, StreamsClient(url) as streams:
        streams.create_stream("short", shards=1, retention_seconds=1)
        streams.create_stream("kept", shards=1)
        for stream in ("short", "kept"):
            streams.put_many(stream, [("k", b"old")] * 5)
        time.sleep(1.2)
        fresh = streams.put("short", "k", b"new")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if streams.describe_stream("short").shards[0].starting_sequence == fresh.sequence:
                break
            time.sleep(0.1)
        it = streams.iterator("short", 0, "TRIM_HORIZON")
        assert [r.data for r in streams.read("short", it).records] == [b"new"]
        assert streams.describe_stream("kept").shards[0].starting_sequence == 1
