"""A database outage: requests fail at once while the store reconnects in the background, and
service resumes when the database answers again (a cut TCP proxy is the outage)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from aion.core.events import EventRecord, prepare_event
from aion.core.ids import key_range
from aion.errors import BackendUnavailable
from aion.storage.backends.postgres import PostgresEventStore
from aion.storage.outages import Breaker
from aion.storage.protocol import flatten
from tests.support.tcp_proxy import TcpProxy, tcp_proxy

DEADLINE = 60.0  # generous: the machine may be loaded


def events(n: int = 1) -> list[EventRecord]:
    return [prepare_event({"n": i}, now=1_000 + i) for i in range(n)]


async def _until(condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Poll ``condition()`` (sync or async) until true; fail after ``DEADLINE`` seconds."""
    deadline = time.monotonic() + DEADLINE
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


# -- the breaker on its own --------------------------------------------------------------------


async def test_the_breaker_fails_at_once_until_a_reconnection_succeeds() -> None:
    back = asyncio.Event()
    tries = 0

    async def reconnect() -> None:
        nonlocal tries
        tries += 1
        if not back.is_set():
            raise BackendUnavailable("db", "refused")

    breaker = Breaker("db", reconnect, interval=0.01)
    breaker.check()  # closed: nothing raised
    breaker.trip("connection lost")
    breaker.trip("again")  # already open: one reconnecting task, the first reason
    with pytest.raises(BackendUnavailable, match=r"connection lost \(reconnecting\)"):
        breaker.check()
    await _until(lambda: breaker.attempts >= 3, "three failed attempts")
    assert breaker.is_open
    back.set()
    await _until(lambda: not breaker.is_open, "the breaker to close")
    breaker.check()
    assert tries == breaker.attempts
    await breaker.close()


async def test_closing_stops_the_reconnecting_and_resets_the_breaker() -> None:
    async def never() -> None:
        raise BackendUnavailable("db", "refused")

    breaker = Breaker("db", never, interval=0.01)
    breaker.trip("down")
    await _until(lambda: breaker.attempts >= 1, "an attempt")
    await breaker.close()
    attempts = breaker.attempts
    assert not breaker.is_open
    await asyncio.sleep(0.05)
    assert breaker.attempts == attempts  # no task left running


# -- PostgreSQL behind a proxy -----------------------------------------------------------------


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    target = urlsplit(postgres_url)
    with tcp_proxy(target.hostname or "127.0.0.1", target.port or 5432) as p:
        yield p


def _through(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))


@pytest.fixture
async def via_proxy(postgres_url: str, proxy: TcpProxy) -> AsyncIterator[PostgresEventStore]:
    store = PostgresEventStore(_through(postgres_url, proxy), timeout=5.0)
    await store.open()
    yield store
    await store.close()


async def _count(store: PostgresEventStore, stream: str) -> int:
    bounds = key_range(0, 10**9)
    assert bounds is not None
    return len([e async for e in flatten(store.retrieve("ns", stream, *bounds))])


@pytest.mark.service
async def test_an_outage_is_noticed_once_and_requests_fail_without_connecting(
    postgres_url: str, proxy: TcpProxy
) -> None:
    # Reconnect attempts far apart: any connection the proxy sees below would be a request's.
    store = PostgresEventStore(_through(postgres_url, proxy), reconnect_interval=3600)
    await store.open()
    try:
        assert await store.insert("ns", "s", events()) == 1
        proxy.cut()
        with pytest.raises(BackendUnavailable):
            await store.insert("ns", "s", events())  # its connection was cut: the breaker opens
        assert store.breaker.is_open
        # The first reconnection attempt fails (and drops the pool) before attempts settle.
        await _until(lambda: store.breaker.attempts >= 1, "the first reconnection attempt")
        tried = proxy.refused
        for _ in range(20):
            with pytest.raises(BackendUnavailable, match="reconnecting"):
                await store.insert("ns", "s", events())
        assert not await store.is_alive()
        assert proxy.refused == tried  # no request tried to connect
        assert store.breaker.attempts == 1
    finally:
        await store.close()


@pytest.mark.service
async def test_service_resumes_when_the_database_answers_again(
    via_proxy: PostgresEventStore, proxy: TcpProxy
) -> None:
    store, stream = via_proxy, uuid.uuid4().hex
    assert await store.insert("ns", stream, events()) == 1
    proxy.cut()
    with pytest.raises(BackendUnavailable):
        await store.insert("ns", stream, events())
    await _until(lambda: store.breaker.attempts >= 2, "reconnection attempts")
    proxy.restore()

    async def stored() -> bool:
        try:
            return await store.insert("ns", stream, events()) == 1
        except BackendUnavailable:
            return False

    await _until(stored, "a write to succeed after the database came back")
    assert not store.breaker.is_open
    assert await store.is_alive()
    assert await _count(store, stream) == 2  # the first event and the one after the outage


@pytest.mark.service
async def test_a_lost_connection_to_a_database_that_answers_recovers(
    via_proxy: PostgresEventStore, proxy: TcpProxy
) -> None:
    store = via_proxy
    assert await store.insert("ns", "s", events()) == 1
    proxy.cut()  # the pooled connection breaks, but new ones are welcome at once
    proxy.restore()
    with pytest.raises(BackendUnavailable):
        await store.insert("ns", "s", events())

    async def stored() -> bool:
        try:
            return await store.insert("ns", "s", events()) == 1
        except BackendUnavailable:
            return False

    await _until(stored, "a write to succeed")
    assert not store.breaker.is_open


@pytest.mark.service
async def test_a_store_opened_while_the_database_is_down_connects_when_it_returns(
    postgres_url: str, proxy: TcpProxy
) -> None:
    proxy.cut()
    store = PostgresEventStore(_through(postgres_url, proxy))
    try:
        with pytest.raises(BackendUnavailable):
            await store.open()
        assert store.breaker.is_open
        with pytest.raises(BackendUnavailable, match="reconnecting"):
            await store.insert("ns", "late", events())
        proxy.restore()
        await _until(store.is_alive, "the store to connect")
        assert await store.insert("ns", "late", events()) == 1
    finally:
        await store.close()
