"""The tail generator on its own, over a memory store: backlog, paging, resuming, lifetime."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec

from aion.server.config import AionConfig, Route
from aion.server.dashboard.tail import TailSettings, sse_message, tail_stream
from aion.server.service import EventService


def _service(tmp_path: Path) -> EventService:
    config = AionConfig(
        backends={"memory": "memory://"},
        routes=(Route("*", "", ("memory",), "memory"),),
        data_dir=tmp_path,
    )
    return EventService(config)


def _data(chunks: list[bytes]) -> list[int]:
    """The ``n`` of each event message among SSE chunks."""
    found = []
    for chunk in chunks:
        if chunk.startswith(b"event: event\n"):
            data = chunk.split(b"data: ", 1)[1].strip()
            found.append(msgspec.json.decode(data)["n"])
    return found


def _events(numbers: range) -> list[dict[str, int]]:
    # Distinct times: events of one time are ordered by the random bits of their ids.
    return [{"n": n, "@time": 17_000_000_000_000_000 + n} for n in numbers]


def test_sse_message_puts_every_line_behind_data() -> None:
    assert sse_message("id-1", b'{"a":1}') == b'event: event\nid: id-1\ndata: {"a":1}\n\n'
    assert sse_message("x", b"one\ntwo", kind="k") == b"event: k\nid: x\ndata: one\ndata: two\n\n"


async def test_tail_sends_the_backlog_then_pages_of_new_events_until_its_lifetime(
    tmp_path: Path,
) -> None:
    service = _service(tmp_path)
    await service.open()
    try:
        await service.ingest("default", "s", _events(range(5)))
        settings = TailSettings(backlog=2, poll_seconds=0.01, page_size=3, lifetime_seconds=0.3)
        chunks: list[bytes] = []
        started = time.monotonic()
        async for chunk in tail_stream(service, "default", "s", None, settings):
            chunks.append(chunk)
            if chunk.startswith(b"event: ready"):
                await service.ingest("default", "s", _events(range(5, 12)))
        assert time.monotonic() - started < 5  # it ends by itself
        assert chunks[0] == b"retry: 1000\n\n"
        assert _data(chunks) == [3, 4, *range(5, 12)]  # the 2 newest, then every new one

        # Resuming after the last id sent repeats nothing and skips no backlog.
        last_id = chunks[-1].split(b"id: ", 1)[1].split(b"\n", 1)[0].decode()
        await service.ingest("default", "s", _events(range(12, 13)))
        quick = TailSettings(poll_seconds=0.01, lifetime_seconds=0.05)
        resumed = [c async for c in tail_stream(service, "default", "s", last_id, quick)]
        assert _data(resumed) == [12]
    finally:
        await service.close()
