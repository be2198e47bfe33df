"""Aion's settings on a postgresql:// URL: pool_size and read_only, validated, taken off
before libpq sees the URL; the pool really holds no more than pool_size connections."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from aion.errors import ConfigurationError
from aion.storage.backends.postgres import PostgresEventStore
from aion.storage.pg_url import DEFAULT_POOL_SIZE, PgSettings, parse_pg_url
from aion.storage.registry import open_event_store
from tests.support.databases import fresh_postgres_database


def test_aion_settings_come_off_and_libpq_ones_stay() -> None:
    url, settings = parse_pg_url(
        "postgres://u@h:5433/db?sslmode=disable&pool_size=20&read_only=true&application_name=x"
    )
    assert url == "postgresql://u@h:5433/db?sslmode=disable&application_name=x"
    assert settings == PgSettings(pool_size=20, read_only=True)
    assert parse_pg_url("postgresql://h/db") == ("postgresql://h/db", PgSettings())
    assert PgSettings().pool_size == DEFAULT_POOL_SIZE == 8
    assert parse_pg_url("postgresql://h/db?read_only=false")[1].read_only is False


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("pool_size=0", "pool_size"),
        ("pool_size=many", "pool_size"),
        ("pool_size=1001", "pool_size"),
        ("read_only=maybe", "read_only"),
    ],
)
def test_a_wrong_setting_is_refused_naming_it(query: str, field: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        open_event_store(f"postgresql://h/db?{query}")


@pytest.mark.service
async def test_the_pool_holds_at_most_pool_size_connections() -> None:
    with fresh_postgres_database("aion_pool") as url:
        store = open_event_store(f"{url}?pool_size=3&application_name=aion-pool-test")
        assert isinstance(store, PostgresEventStore)
        await store.open()
        try:

            async def pid(conn: psycopg.AsyncConnection[Any]) -> int:
                cur = await conn.execute("SELECT pg_backend_pid(), pg_sleep(0.02)")
                row = await cur.fetchone()
                assert row is not None
                return int(row[0])

            pids = await asyncio.gather(*(store.run(pid) for _ in range(24)))
            assert 1 <= len(set(pids)) <= 3
            # The libpq setting on the same URL reached the server.
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                cur = await conn.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = 'aion-pool-test' AND datname = current_database()"
                )
                row = await cur.fetchone()
            assert row is not None and 1 <= int(row[0]) <= 3
        finally:
            await store.close()
