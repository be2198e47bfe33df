"""The probes: ``GET /healthz`` (liveness: the process answers) and ``GET /readyz``
(readiness: 200 when every backend is ready, else 503 naming the ones that are not and why).

A backend is ready when it answers (``is_alive``) and, for a store that tracks its writes
(``WriteHealth``), when its writes succeed: a store whose disk is full still answers reads,
but a server that cannot store a put is not ready. A store whose last write failed is probed
with a small write, so readiness comes back as soon as writes work, client writes or not. The
streams engine counts as the backend ``streams`` when it is a separate service (Redis, NATS)
that can say whether it answers, or an SQL database apart from the event stores; over an
event store's database it is already listed. With ``[[rollups]]`` rules, ``rollups`` is ready
when every rule's backend is open and answers; on a server sharing a cluster's keys store,
``keys`` is ready when that store answers. So every engine the server uses is covered, and a
balancer takes a server out of rotation whichever engine it has lost.

Each backend is checked concurrently with a short timeout, so one hung backend makes the probe
say so in time instead of hanging the probe (and the orchestrator's check).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse

from aion.errors import AionError
from aion.server.ops.openapi import HEALTHZ, READYZ
from aion.storage import EventStore
from aion.storage.protocol import WriteHealth

__all__ = [
    "KEYS_BACKEND",
    "PROBE_TIMEOUT_SECONDS",
    "ROLLUPS_BACKEND",
    "STREAMS_BACKEND",
    "Liveness",
    "install_health",
    "probe_backends",
    "readiness",
]

PROBE_TIMEOUT_SECONDS = 2.0
STREAMS_BACKEND = "streams"
ROLLUPS_BACKEND = "rollups"
KEYS_BACKEND = "keys"
log = logging.getLogger("aion.server.health")


@runtime_checkable
class Liveness(Protocol):
    """Anything that can say whether its backend answers now (stores, some stream logs)."""

    async def is_alive(self) -> bool: ...


async def _problem(name: str, backend: Liveness, timeout: float) -> str | None:
    """None when ``backend`` is ready, else why not."""
    try:
        async with asyncio.timeout(timeout):
            if not await backend.is_alive():
                return "not answering"
            if isinstance(backend, WriteHealth):
                problem = await backend.write_problem()
                if problem is not None:
                    return f"writes failing: {problem}"
            return None
    except TimeoutError:
        log.warning("backend %s did not answer its readiness check in %.1fs", name, timeout)
        return f"no answer in {timeout:.1f}s"
    except Exception:
        # A probe must answer; a backend whose check fails is simply not ready.
        log.warning("readiness check of backend %s failed", name, exc_info=True)
        return "its check failed"


async def readiness(
    backends: Mapping[str, Liveness], timeout: float = PROBE_TIMEOUT_SECONDS
) -> dict[str, str | None]:
    """Per backend, None when it is ready, else why not; checked concurrently."""
    names = list(backends)
    problems = await asyncio.gather(*(_problem(n, backends[n], timeout) for n in names))
    return dict(zip(names, problems, strict=True))


async def _alive(name: str, store: EventStore, timeout: float) -> bool:
    try:
        return await asyncio.wait_for(store.is_alive(), timeout)
    except TimeoutError:
        log.warning("backend %s did not answer its liveness check in %.1fs", name, timeout)
        return False
    except Exception:
        log.warning("liveness check of backend %s failed", name, exc_info=True)
        return False


async def probe_backends(
    stores: Mapping[str, EventStore], timeout: float = PROBE_TIMEOUT_SECONDS
) -> dict[str, bool]:
    """Whether each backend answers within ``timeout`` seconds, by name (liveness only)."""
    names = list(stores)
    alive = await asyncio.gather(*(_alive(n, stores[n], timeout) for n in names))
    return dict(zip(names, alive, strict=True))


@runtime_checkable
class _Pingable(Protocol):
    """A blocking store that raises unless its backend answers (rollup backends)."""

    def ping(self) -> None: ...


class _RollupBackends:
    """Ready when every rollup rule's backend is open and answers."""

    def __init__(self, rollups: Any) -> None:
        self._rollups = rollups

    async def is_alive(self) -> bool:
        for rule in self._rollups.rules:
            timeseries = self._rollups.timeseries.get(rule.name)
            if timeseries is None:  # it could not be opened (yet): its backend is down
                return False
            store = timeseries.store
            if isinstance(store, _Pingable):
                try:
                    await asyncio.to_thread(store.ping)
                except AionError:
                    return False
        return True


class _SharedKeys:
    """Ready when the cluster's shared keys store (PostgreSQL or Redis) answers."""

    def __init__(self, store: Any) -> None:
        self._store = store

    async def is_alive(self) -> bool:
        try:
            await asyncio.to_thread(self._store.version)
        except AionError:
            return False
        return True


def _checked_backends(app: FastAPI) -> dict[str, Liveness]:
    """The backends readiness checks, every engine the server uses: the event stores; the
    streams engine when it is a service of its own (Redis, NATS, a PostgreSQL apart from the
    event stores'); the rollup rules' backends (``rollups``); a cluster's shared keys store
    (``keys``)."""
    service = app.state.service
    backends: dict[str, Liveness] = dict(service.stores)
    stream_log = getattr(app.state, "stream_log", None)
    if STREAMS_BACKEND not in backends:
        if isinstance(stream_log, Liveness):
            backends[STREAMS_BACKEND] = stream_log
        else:  # an SQL stream log over a store of its own, not one of the event stores
            own = getattr(stream_log, "store", None)
            if isinstance(own, Liveness) and all(own is not s for s in service.stores.values()):
                backends[STREAMS_BACKEND] = own
    rollups = getattr(app.state, "rollups", None)
    if rollups is not None and rollups.rules and ROLLUPS_BACKEND not in backends:
        backends[ROLLUPS_BACKEND] = _RollupBackends(rollups)
    keyring = getattr(app.state, "keyring", None)
    if keyring is not None and keyring.shared and KEYS_BACKEND not in backends:
        backends[KEYS_BACKEND] = _SharedKeys(keyring.store)
    return backends


def install_health(app: FastAPI, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
    """Add ``/healthz`` and ``/readyz`` to ``app`` (its EventService is
    ``app.state.service``)."""

    @app.get("/healthz", tags=["operations"], responses=HEALTHZ)
    async def healthz() -> dict[str, Any]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], response_class=JSONResponse, responses=READYZ)
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: 200 when every backend answers and takes writes, else 503 naming those
        that do not and why."""
        problems = await readiness(_checked_backends(request.app), timeout)
        backends = {name: problem is None for name, problem in problems.items()}
        down = sorted(name for name, problem in problems.items() if problem is not None)
        if down:
            reasons = {name: problems[name] for name in down}
            named = ", ".join(f"{name} ({reasons[name]})" for name in down)
            return JSONResponse(
                {
                    "status": "unavailable",
                    "backends": backends,
                    "down": down,
                    "reasons": reasons,
                    "message": f"backend(s) not ready: {named}",
                },
                status_code=503,
            )
        return JSONResponse({"status": "ready", "backends": backends})
