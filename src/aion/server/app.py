"""The ASGI application: one FastAPI app serving every wire API.

``create_app(config)`` builds it; the lifespan opens and closes the stores. The environment is
read only in ``create_app_from_env`` (used by ``aion serve --workers N``).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from aion.errors import BackendUnavailable
from aion.server.config import AionConfig
from aion.server.dashboard import api as dashboard_api
from aion.server.errors import install_error_handlers
from aion.server.ingest import native_api as ingest_api
from aion.server.ingest.initialstate_api import initialstate_router
from aion.server.ingest.samsara_api import samsara_router
from aion.server.kronos import api as kronos_api
from aion.server.openapi import install_openapi
from aion.server.ops.access_log import AccessLogMiddleware
from aion.server.ops.auth import install_auth, request_family
from aion.server.ops.disconnects import ClientDisconnectMiddleware
from aion.server.ops.docs import install_docs
from aion.server.ops.health import install_health
from aion.server.ops.limits import BodyLimitMiddleware
from aion.server.ops.metrics import install_metrics
from aion.server.rollups.timeseries_api import router as timeseries_router
from aion.server.rollups.worker import RollupWorker
from aion.server.service import EventService
from aion.server.streams import kinesis_api
from aion.server.streams import native_api as streams_api
from aion.server.streams.retention import RetentionTrimmer
from aion.streams.protocol import StreamLog
from aion.streams.registry import open_stream_log
from aion.version import __version__

__all__ = ["CONFIG_ENV", "create_app", "create_app_from_env", "tune_interpreter"]

CONFIG_ENV = "AION_SERVER_CONFIG"
GC_YOUNG_THRESHOLD = 20_000
"""Net allocations between young-generation collections (Python's default is 700)."""
SWITCH_INTERVAL_SECONDS = 0.0002
log = logging.getLogger("aion.server")


def create_app(config: AionConfig, service: EventService | None = None) -> FastAPI:
    """The Aion server for ``config``."""
    service = service or EventService(config)
    stream_log = open_streams(config, service)
    rollups = RollupWorker.for_config(config, stream_log, service.stores)
    retention = RetentionTrimmer.for_config(config, stream_log)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.open()
        try:
            await open_tolerantly(stream_log)
            try:
                await retention.start()  # after the stream log opens, stopped before it closes
                async with rollups.running():  # after the stream log opens, before it closes
                    if _server_process.is_set():  # not in tests that build apps in-process
                        settle_heap()
                    yield
            finally:
                await retention.stop()
                await stream_log.close()
        finally:
            await service.close()

    app = FastAPI(
        title="Aion",
        version=__version__,
        description="One event pipeline: the Kronos event store, Initial State and Samsara "
        "ingestion, sharded streams and timeseries rollups.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, from local files
        redoc_url=None,
    )
    app.state.service = service
    app.state.stream_log = stream_log
    app.state.rollups = rollups
    app.state.retention = retention
    app.state.sink = service
    app.state.config = config
    app.include_router(kronos_api.router)
    _mount_optional_routers(app)

    install_error_handlers(app, request_family)

    app.add_middleware(BodyLimitMiddleware, limit=config.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(config.cors_origins),
        allow_methods=["*"],
        allow_headers=["*"],
    )
    # Inside the metrics and the access log, which then count a client gone mid-body as 499.
    app.add_middleware(ClientDisconnectMiddleware)
    # Operations: API keys (innermost), /readyz, /metrics, the access log (outermost).
    install_auth(app, config)
    install_health(app)  # /healthz and /readyz
    install_docs(app)  # GET / (to the dashboard), /docs and /redoc with no CDN
    install_metrics(app, service, kinesis_operations=frozenset(kinesis_api.OPERATIONS))
    app.add_middleware(AccessLogMiddleware)
    install_openapi(app)  # /openapi.json: every route, with what the layers above answer
    return app


def _mount_optional_routers(app: FastAPI) -> None:
    """The other wire APIs, each in its family's package."""
    app.include_router(ingest_api.router())
    app.include_router(initialstate_router())
    app.include_router(samsara_router())
    app.include_router(streams_api.router())
    app.include_router(kinesis_api.router())
    app.include_router(dashboard_api.router())
    app.include_router(timeseries_router())


async def open_tolerantly(stream_log: StreamLog) -> None:
    """Open the streams engine; one that is down does not stop the server from starting (an
    orchestrator would restart it in a loop): stream requests answer 503 and ``/readyz``
    names it until it answers, and each engine connects by itself once it does."""
    try:
        await stream_log.open()
    except BackendUnavailable as exc:
        log.warning("the streams engine is down at start-up: %s", exc)


def open_streams(config: AionConfig, service: EventService) -> StreamLog:
    """The StreamLog for sharded streams; over SQL it shares the event store's object, so
    one write serves the time API and the shard reads."""
    name = config.streams_backend
    url = config.backends[name] if name is not None else str(config.streams)
    return open_stream_log(url, store=service.stores[name] if name is not None else None)


def tune_interpreter() -> None:
    """Process-wide settings for a server process (the CLI's and each worker's).

    The SQLite writer thread gives up the GIL while SQLite works and must take it back to go
    on; with Python's default 5 ms switch interval it waits behind request handlers for most of
    that time. 0.2 ms lets it back in sooner: batched puts 84k → 104k events/s (BENCHMARKS.md).
    """
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    _server_process.set()


_server_process = threading.Event()
"""Set by ``tune_interpreter``: this process exists to serve, so its heap may be settled."""


def settle_heap() -> None:
    """Tune the cyclic garbage collector for a server that has finished starting.

    Everything alive by then (modules, app, routes: ~80,000 objects) is frozen out of the
    collector's sight, and collections run after 20,000 net allocations instead of 700. Both
    aim at the pauses a collection puts on the event loop, which set single-event put latency:
    at 2,000 puts/s p99.9 went from 27-47 ms over six runs to 9-24 ms over five (BENCHMARKS.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


def create_app_from_env() -> FastAPI:
    """The app for a worker process: the config comes as JSON in ``AION_SERVER_CONFIG``."""
    tune_interpreter()
    raw = os.environ.get(CONFIG_ENV)
    if raw is None:
        return create_app(AionConfig.for_data_dir("aion-data"))
    return create_app(AionConfig.from_mapping(json.loads(raw)))
