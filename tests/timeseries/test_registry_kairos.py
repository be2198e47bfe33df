"""Choosing a backend the way Kairos users did: its URLs, ``prefix=`` everywhere, and a plain
answer for MongoDB and Cassandra (issue 11, item 3)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from aion.errors import ConfigurationError, UnsupportedBackend, ValidationError
from aion.timeseries import MemoryDatabase, Timeseries
from aion.timeseries.backends.sql_urls import sql_url
from tests.support.paths import ROOT
from tests.support.services import MARIADB_URL, require

T = 1_800_000_000
INTERVALS = {"minute": {"step": 60}}


def _client_from(module: str) -> Any:
    """An object whose class says it comes from ``module``, as a driver's client would."""
    return type("Client", (), {"__module__": module})()


@pytest.mark.parametrize(
    ("client", "database"),
    [
        ("mongodb://localhost:27018/timeseries", "MongoDB"),
        ("mongodb+srv://guest:host@cluster.example/db", "MongoDB"),
        ("cassandra://localhost:9160", "Cassandra"),
        ("cql://localhost/keyspace", "Cassandra"),
        (_client_from("pymongo.mongo_client"), "MongoDB"),
        (_client_from("cassandra.cluster"), "Cassandra"),
        (_client_from("cql.connection"), "Cassandra"),
    ],
)
def test_mongo_and_cassandra_are_refused_plainly(client: Any, database: str) -> None:
    with pytest.raises(UnsupportedBackend) as info:
        Timeseries(client, type="count", intervals=INTERVALS)
    message = str(info.value)
    assert f"Aion does not support {database}" in message
    for alternative in ("postgresql://", "mysql://", "sqlite:///", "redis://", "aion import"):
        assert alternative in message
    assert "'Coming from MongoDB or Cassandra' in docs/timeseries.md" in message
    assert isinstance(info.value, ConfigurationError)
    assert info.value.database == database


def test_the_docs_section_the_error_names_exists() -> None:
    doc = (ROOT / "docs" / "timeseries.md").read_text()
    assert "### Coming from MongoDB or Cassandra" in doc


def test_sql_urls_map_onto_installed_drivers() -> None:
    aion_only = {"psycopg", "pymysql"}.__contains__
    assert sql_url("postgres://u@h/db", aion_only) == "postgresql+psycopg://u@h/db"
    assert sql_url("postgresql://u@h/db", aion_only) == "postgresql+psycopg://u@h/db"
    assert sql_url("postgresql+psycopg2://u@h/db", aion_only) == "postgresql+psycopg://u@h/db"
    assert sql_url("mysql://root@h/t", aion_only) == "mysql+pymysql://root@h/t"
    assert sql_url("mysql+mysqldb://root@h/t", aion_only) == "mysql+pymysql://root@h/t"
    assert sql_url("mariadb://root@h/t", aion_only) == "mariadb+pymysql://root@h/t"
    # a driver the user has installed is kept; other URLs pass through
    classic = {"psycopg2", "MySQLdb", "psycopg", "pymysql"}.__contains__
    assert sql_url("mysql://root@h/t", classic) == "mysql+mysqldb://root@h/t"
    assert sql_url("postgresql+psycopg2://u@h/db", classic) == "postgresql+psycopg2://u@h/db"
    assert sql_url("postgresql+asyncpg://u@h/db", aion_only) == "postgresql+asyncpg://u@h/db"
    assert sql_url("sqlite:///x.db", aion_only) == "sqlite:///x.db"
    with pytest.raises(ConfigurationError, match=r"pip install 'aion\[sql\]'"):
        sql_url("mysql+mysqldb://root@h/t", lambda module: False)
    with pytest.raises(ConfigurationError, match=r"pip install 'aion\[postgres\]'"):
        sql_url("postgres://u@h/db", lambda module: False)


@pytest.mark.service
def test_kairos_readme_urls_work(postgres_url: str) -> None:
    require("mariadb")
    table = f"ts_{uuid.uuid4().hex[:8]}"
    maria_rest = MARIADB_URL.split("://", 1)[1]
    pg_rest = postgres_url.split("://", 1)[1]
    urls = [
        f"postgres://{pg_rest}",
        f"postgresql://{pg_rest}",
        f"mysql://{maria_rest}",
        f"mysql+mysqldb://{maria_rest}",
    ]
    for url in urls:
        with Timeseries(url, type="count", intervals=INTERVALS, table_name=table) as ts:
            ts.insert("hits", 2, timestamp=T)
            assert ts.get("hits", "minute", timestamp=T) == {T: 2}, url
            ts.store.table.drop(ts.store.engine)  # type: ignore[attr-defined]


def test_sql_prefix_is_a_table_name_prefix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    with Timeseries(url, type="count", intervals=INTERVALS, prefix="kairos") as ts:
        assert ts.store.table.name == "kairos_aion_timeseries_count"  # type: ignore[attr-defined]
    with Timeseries(url, type="set", intervals=INTERVALS, prefix="a:", table_name="sets") as ts:
        assert ts.store.table.name == "a_sets"  # type: ignore[attr-defined]
    for bad in ("1x", "a-b", "a b", "x;drop table y", "é", "p" * 40):
        with pytest.raises(ValidationError) as info:
            Timeseries(url, type="count", intervals=INTERVALS, prefix=bad)
        assert info.value.field == "prefix"


def test_memory_prefix_is_a_namespace() -> None:
    shared = MemoryDatabase()
    a = Timeseries(shared, type="count", intervals=INTERVALS, prefix="a")
    b = Timeseries(shared, type="count", intervals=INTERVALS, prefix="b")
    a_again = Timeseries(shared, type="count", intervals=INTERVALS, prefix="a")
    a.insert("x", timestamp=T)
    assert b.list() == []
    assert a_again.get("x", "minute", timestamp=T) == {T: 1}
    with Timeseries("memory://", type="count", intervals=INTERVALS, prefix="kairos") as ts:
        ts.insert("x", timestamp=T)
        assert ts.list() == ["x"]
