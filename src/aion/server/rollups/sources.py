"""Where rollup rules read events from: the streams engine, and the event stores' stream view.

Events put through the Kronos, Initial State and Samsara APIs go to the event store of their
route (SQLite or PostgreSQL), where each event is also a record of a sharded stream; records
put through the native and Kinesis stream APIs go to the streams engine (``streams`` in
aion.toml). When the engine is one of those event stores, the two are one set of tables and
one source. When it is another store (Redis, NATS, a separate database), a rule follows both:
the engine, and the stream view of every SQL event store that serves reads, so it sees every
event whichever API wrote it. A memory event store has no stream view; its events are not
rolled up.

Each source has a ``tag`` that keeps its checkpoints apart: the engine's is empty (the
checkpoint keys rollups always had), an event store's is ``events:<backend name>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from aion.server.config import AionConfig
from aion.storage.protocol import EventStore
from aion.streams.protocol import StreamLog
from aion.streams.registry import SQL_SCHEMES, open_stream_log

__all__ = ["Source", "event_store_sources"]


@dataclass(frozen=True, slots=True)
class Source:
    """One StreamLog a rollup rule follows; ``owned`` when the worker opens and closes it."""

    tag: str
    log: StreamLog
    owned: bool = False


def event_store_sources(config: AionConfig, stores: dict[str, EventStore]) -> list[Source]:
    """The stream views of the SQL event stores that serve reads, except the one the streams
    engine already is (named as the ``streams`` backend, or the same URL)."""
    engine_name = config.streams_backend
    engine_url = None if engine_name is not None else config.streams
    sources: list[Source] = []
    for name in sorted({route.read_backend for route in config.routes}):
        url = config.backends[name]
        if name == engine_name or url == engine_url or name not in stores:
            continue
        if urlsplit(url).scheme.lower() not in SQL_SCHEMES:
            continue
        log = open_stream_log(url, store=stores[name])
        sources.append(Source(f"events:{name}", log, owned=True))
    return sources
