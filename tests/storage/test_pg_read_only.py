"""A PostgreSQL database that may only be read (a replica): the stores open it without making
tables, read from it, and refuse writes with a clear error; a route reads from a replica while
its writes go to the primary.

A replica is emulated on the local server: ``default_transaction_read_only = on`` set for the
database (every new session then refuses writes, as a hot standby does), or for a role that
reads the primary's database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from aion import Client
from aion.core.events import prepare_event
from aion.core.ids import key_range
from aion.errors import Forbidden
from aion.server.app import create_app
from aion.server.config import AionConfig, Route
from aion.storage.backends.postgres import PostgresEventStore
from aion.storage.protocol import flatten
from aion.streams.backends.postgres import PostgresStreamLog
from aion.streams.protocol import TRIM_HORIZON, AppendRecord
from tests.support.databases import fresh_postgres_database
from tests.support.live import serve
from tests.support.services import POSTGRES_URL

pytestmark = pytest.mark.service


def _admin(sql: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql)


async def _table_exists(url: str, table: str) -> bool:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
        row = await cur.fetchone()
        return bool(row and row[0])


async def _all(store: PostgresEventStore, stream: str) -> list[Any]:
    bounds = key_range(0, 10**15)
    assert bounds is not None
    return [e async for e in flatten(store.retrieve("ns", stream, *bounds))]


async def test_a_read_only_database_is_read_and_writes_are_refused() -> None:
    with fresh_postgres_database("aion_replica") as url:
        primary = PostgresStreamLog(url)
        await primary.open()
        await primary.store.insert("ns", "events", [prepare_event({"n": 1}, now=1_000)])
        await primary.create_stream("ns", "records", shards=1)
        await primary.append("ns", "records", [AppendRecord("k", b"kept")])
        await primary.close()
        name = urlsplit(url).path.lstrip("/")
        _admin(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')

        replica = PostgresStreamLog(url)  # no flag: found out on connecting
        await replica.open()
        try:
            assert replica.store.read_only
            assert [e.time for e in await _all(replica.store, "events")] == [1_000]
            read = await replica.read("ns", "records", 0, TRIM_HORIZON)
            assert [r.data for r in read.records] == [b"kept"]
            with pytest.raises(Forbidden, match=r"read-only.*writes go to the primary"):
                await replica.store.insert("ns", "events", [prepare_event({"n": 2}, now=2_000)])
            with pytest.raises(Forbidden, match="read-only"):
                await replica.append("ns", "records", [AppendRecord("k", b"refused")])
            with pytest.raises(Forbidden, match="read-only"):
                await replica.create_stream("ns", "other", shards=1)
            assert [e.time for e in await _all(replica.store, "events")] == [1_000]
        finally:
            await replica.close()


async def test_read_only_on_the_url_makes_no_tables() -> None:
    with fresh_postgres_database("aion_replica_flag") as url:
        store = PostgresEventStore(f"{url}?read_only=true")
        await store.open()
        try:
            assert store.read_only
            assert not await _table_exists(url, "aion_events")
            with pytest.raises(Forbidden, match="read_only=true"):
                await store.insert("ns", "s", [prepare_event({"n": 1}, now=1_000)])
        finally:
            await store.close()


@pytest.fixture
def reader_role() -> Iterator[str]:
    """A login role whose sessions only read (what connecting to a replica gives)."""
    role = f"aion_reader_{uuid.uuid4().hex[:8]}"
    _admin(f"CREATE ROLE {role} LOGIN")
    _admin(f"GRANT pg_read_all_data TO {role}")
    _admin(f"ALTER ROLE {role} SET default_transaction_read_only = on")
    try:
        yield role
    finally:
        _admin(f"DROP ROLE IF EXISTS {role}")


def test_a_route_reads_from_a_replica_and_writes_to_the_primary(
    tmp_path: Path, reader_role: str
) -> None:
    with fresh_postgres_database("aion_replica_route") as url:
        parts = urlsplit(url)
        netloc = f"{reader_role}@{parts.hostname}:{parts.port or 5432}"
        replica_url = urlunsplit(parts._replace(netloc=netloc))
        config = AionConfig(
            backends={"primary": url, "replica": replica_url},
            routes=(Route("*", "", ("primary",), "replica"),),
            data_dir=tmp_path,
            keys_store="local",
        )
        with serve(create_app(config)) as base, Client(base) as client:
            client.put({"clicks": [{"user": 1}, {"user": 2}]})
            assert sorted(e["user"] for e in client.get("clicks", 0, "now")) == [1, 2]
