"""Readiness: ``GET /readyz`` answers 200 when every backend answers, else 503 naming the ones
that do not. ``/healthz`` (liveness: the process answers) stays in the app module.

Each backend is asked ``is_alive()`` concurrently with a short timeout, so one hung backend
makes the probe say so in time instead of hanging the probe (and the orchestrator's check).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse

from aion.storage import EventStore

__all__ = ["PROBE_TIMEOUT_SECONDS", "install_health", "probe_backends"]

PROBE_TIMEOUT_SECONDS = 2.0
log = logging.getLogger("aion.server.health")


async def _alive(name: str, store: EventStore, timeout: float) -> bool:
    try:
        return await asyncio.wait_for(store.is_alive(), timeout)
    except TimeoutError:
        log.warning("backend %s did not answer its liveness check in %.1fs", name, timeout)
        return False
    except Exception:
        # A probe must answer; a backend whose check fails is simply not alive.
        log.warning("liveness check of backend %s failed", name, exc_info=True)
        return False


async def probe_backends(
    stores: Mapping[str, EventStore], timeout: float = PROBE_TIMEOUT_SECONDS
) -> dict[str, bool]:
    """Whether each backend answers within ``timeout`` seconds, by name."""
    names = list(stores)
    alive = await asyncio.gather(*(_alive(n, stores[n], timeout) for n in names))
    return dict(zip(names, alive, strict=True))


def install_health(app: FastAPI, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
    """Add ``/readyz`` to ``app`` (its EventService is ``app.state.service``)."""

    @app.get("/readyz", tags=["operations"], response_class=JSONResponse)
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: 200 when every backend answers, else 503 naming those that do not."""
        backends = await probe_backends(request.app.state.service.stores, timeout)
        down = sorted(name for name, alive in backends.items() if not alive)
        if down:
            return JSONResponse(
                {
                    "status": "unavailable",
                    "backends": backends,
                    "down": down,
                    "message": f"backend(s) not answering: {', '.join(down)}",
                },
                status_code=503,
            )
        return JSONResponse({"status": "ready", "backends": backends})
