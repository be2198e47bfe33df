"""A PostgreSQL outage: how long a request takes to fail, and how soon service resumes.

The outage is a TCP proxy between the client and PostgreSQL that is cut (every connection
broken, new ones closed at once, as by a stopped server) for ``OUTAGE_SECONDS`` and then
restored. Requests are sent one after another all along (the store's fail in microseconds, so
these are many); "recovery" is the time from the
restore to the first request that succeeds (polled every 10 ms). The peer, in the same run, is
a bare ``psycopg_pool.AsyncConnectionPool`` with the store's settings (5 s timeout, 1-8
connections): what the store did before it had a breaker. The pool's recovery depends on where
its reconnection backoff stands when the database returns: attempts about 1, 3, 7, 15, 31, 63 s
into the outage (with jitter, and a second chain started by waiting clients), so after a 20 s
outage its next attempt is due some 11 s later, after a 30 s one only 1 s later.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tests.support.services import POSTGRES_URL
from tests.support.tcp_proxy import TcpProxy, tcp_proxy

from aion.core.events import prepare_event
from bench.report import QUICK, row

OUTAGE_SECONDS = 6.0 if QUICK else 20.0

Request = Callable[[], Awaitable[Any]]


def _through(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))


async def _outage(proxy: TcpProxy, request: Request) -> tuple[list[float], int, float]:
    """Latencies of the requests failed during the outage, connection attempts made in it,
    and the seconds from the restore to the first request that succeeds."""
    await request()
    proxy.cut()
    before = proxy.refused
    failures: list[float] = []
    ends = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < ends:
        started = time.perf_counter()
        try:
            await request()
        except Exception:
            failures.append(time.perf_counter() - started)
        else:
            raise RuntimeError("a request succeeded through a cut proxy")
        await asyncio.sleep(0)  # as a server does between requests: background tasks run
    attempts = proxy.refused - before
    proxy.restore()
    restored = time.perf_counter()
    while True:
        try:
            await request()
            return failures, attempts, time.perf_counter() - restored
        except Exception:
            await asyncio.sleep(0.01)


async def _store(url: str) -> tuple[list[float], int, float]:
    from aion.storage.backends.postgres import PostgresEventStore

    with tcp_proxy(*_target(url)) as proxy:
        store = PostgresEventStore(_through(url, proxy))
        await store.open()
        stream = uuid.uuid4().hex

        async def put() -> None:
            await store.insert("bench", stream, [prepare_event({"a": 1}, now=1)])

        try:
            return await _outage(proxy, put)
        finally:
            await store.close()


async def _bare_pool(url: str) -> tuple[list[float], int, float]:
    from psycopg_pool import AsyncConnectionPool

    with tcp_proxy(*_target(url)) as proxy:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            _through(url, proxy), min_size=1, max_size=8, timeout=5.0, open=False
        )
        await pool.open(wait=True)

        async def select() -> None:
            async with pool.connection() as conn:
                await conn.execute("SELECT 1")

        try:
            return await _outage(proxy, select)
        finally:
            await pool.close()


def _target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def main() -> list[dict[str, Any]]:
    store_fails, store_attempts, store_back = asyncio.run(_store(POSTGRES_URL))
    pool_fails, pool_attempts, pool_back = asyncio.run(_bare_pool(POSTGRES_URL))
    name = f"PostgreSQL cut for {OUTAGE_SECONDS:.0f} s"
    peer = "bare psycopg pool"
    return [
        row(
            f"{name}: median time to fail a request",
            statistics.median(store_fails) * 1e6,
            "µs",
            peer,
            statistics.median(pool_fails) * 1e6,
        ),
        row(
            f"{name}: connection attempts",
            store_attempts,
            "connections",
            peer,
            pool_attempts,
            "one per 0.5 s",
        ),
        row(
            f"{name}: service back after the restore",
            store_back * 1000,
            "ms",
            peer,
            pool_back * 1000,
            "< 2,000 ms",
        ),
    ]


if __name__ == "__main__":
    main()
