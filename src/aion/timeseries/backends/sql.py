"""The SQL backend on SQLAlchemy Core 2: SQLite, PostgreSQL and MariaDB/MySQL.

One table per type (``aion_timeseries_<type>`` unless ``table_name`` is given), keyed by
``(name, interval, i_time, r_time[, value])`` where ``i_time``/``r_time`` are bucket ids and a
coarse row stores its interval bucket in ``r_time``. A batch is written in one transaction with
native upserts (``ON CONFLICT`` / ``ON DUPLICATE KEY``), after every value has been converted
to the column type, so a bad value leaves nothing half-written. SQL has no TTLs: ``expire()``
deletes the buckets past ``steps``.

Options: ``table_name``, ``prefix`` (prepended to the table name with ``_``: Kairos passed
``prefix=`` to every backend, and two prefixes on one database are two sets of tables),
``string_length`` (VARCHAR size, 255), ``text_length`` (TEXT/BLOB
size, 32768) and ``value_type`` (default float; a name such as ``"int"``, ``"str"``, a Python
type or an SQLAlchemy type). The ``fetch`` hook is Kairos's
``fetch(connection, table, name, interval, i_start, i_end)`` returning
``{i_bucket: {r_bucket or None: data}}``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from aion.errors import BackendUnavailable, ConfigurationError, ValidationError
from aion.timeseries.backends.sql_schema import (
    build_checkpoint_table,
    build_table,
    coercer,
    prefixed_table_name,
)
from aion.timeseries.backends.sql_urls import sql_url
from aion.timeseries.protocol import (
    Advance,
    Fetch,
    Kind,
    ReadQuery,
    Rows,
    StoreError,
    WriteBatch,
)

try:
    import sqlalchemy as sa
    from sqlalchemy.dialects import mysql, postgresql, sqlite
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ConfigurationError(
        "the SQL timeseries backend needs SQLAlchemy: pip install 'aion[sql]'"
    ) from exc

__all__ = ["SqlStore"]

_KEY = ("name", "interval", "i_time", "r_time")


@contextmanager
def _mapped_errors() -> Iterator[None]:
    try:
        yield
    except sa.exc.OperationalError as exc:
        # OperationalError also covers DDL and lock errors; only a lost or refused
        # connection means the backend is unavailable.
        message = str(exc.orig)
        if exc.connection_invalidated or "connect" in message.lower():
            raise BackendUnavailable("sql", message) from exc
        raise StoreError(f"sql: {message}") from exc
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"sql: {exc}") from exc


class SqlStore:
    """A :class:`~aion.timeseries.protocol.TimeseriesStore` on an SQLAlchemy Engine."""

    def __init__(
        self,
        kind: Kind,
        engine: sa.Engine,
        *,
        table_name: str | None = None,
        prefix: str = "",
        string_length: int = 255,
        text_length: int = 32 * 1024,
        value_type: Any = float,
        owned: bool = False,
    ) -> None:
        self.kind = kind
        self.engine = engine
        self._owned = owned
        name = prefixed_table_name(prefix, table_name or f"aion_timeseries_{kind}")
        self.table = build_table(kind, name, string_length, text_length, value_type)
        self._coerce: Callable[[Any], Any] = coercer(self.table.c.value.type, text_length)
        self._string_length = string_length
        with _mapped_errors():
            self.table.metadata.create_all(engine, checkfirst=True)
        self._upsert = self._build_upsert()
        self.checkpoints = build_checkpoint_table(f"{self.table.name}_checkpoints", string_length)
        self._checkpoints_ready = False
        self._checkpoints_lock = threading.Lock()
        self._multi_row: dict[tuple[str, ...], str] = {}
        dialect = engine.dialect
        # Raw SQL skips SQLAlchemy's bind processing: only for columns that need none, or
        # plain numbers and strings, which coercion already made the column's Python type.
        self._multi_row_ok = (
            dialect.name == "postgresql"
            and "%" not in self.table.name
            and all(
                isinstance(c.type, sa.Float | sa.Integer | sa.String)
                or c.type.bind_processor(dialect) is None
                for c in self.table.columns
            )
        )

    @classmethod
    def from_url(
        cls, kind: Kind, url: str, client_config: Mapping[str, Any] | None = None, **options: Any
    ) -> SqlStore:
        """Create an engine for ``url`` that :meth:`close` disposes of. ``postgres://``,
        ``mysql://`` and ``mysql+mysqldb://`` use the drivers Aion installs (see
        :mod:`aion.timeseries.backends.sql_urls`)."""
        try:
            engine = sa.create_engine(sql_url(url), **dict(client_config or {}))
        except (ImportError, sa.exc.NoSuchModuleError) as exc:
            raise ConfigurationError(
                f"no SQL driver for {url.split(':', 1)[0]!r} ({exc}); install it, e.g. "
                "pip install 'aion[sql]' or 'aion[postgres]'"
            ) from exc
        except sa.exc.ArgumentError as exc:
            raise ConfigurationError(f"bad SQL URL: {exc}") from exc
        return cls(kind, engine, owned=True, **options)

    def check_name(self, name: str) -> None:
        """Names must fit the VARCHAR columns."""
        if len(name) > self._string_length:
            raise ValidationError(
                f"name {name[:40]!r}... is longer than string_length={self._string_length}",
                field="name",
            )

    def _build_upsert(self) -> Any:
        table, kind = self.table, self.kind
        dialect = self.engine.dialect.name
        if kind is Kind.SERIES:
            return sa.insert(table)
        key = [*_KEY, "value"] if kind in (Kind.HISTOGRAM, Kind.SET) else list(_KEY)
        if dialect in ("postgresql", "sqlite"):
            insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
            if kind is Kind.SET:
                return insert.on_conflict_do_nothing(index_elements=key)
            column = "count" if kind is Kind.HISTOGRAM else "value"
            new = insert.excluded[column]
            update = new if kind is Kind.GAUGE else table.c[column] + new
            return insert.on_conflict_do_update(index_elements=key, set_={column: update})
        if dialect in ("mysql", "mariadb"):
            my_insert = mysql.insert(table)
            if kind is Kind.SET:
                return my_insert.on_duplicate_key_update(value=my_insert.inserted.value)
            column = "count" if kind is Kind.HISTOGRAM else "value"
            new = my_insert.inserted[column]
            update = new if kind is Kind.GAUGE else table.c[column] + new
            return my_insert.on_duplicate_key_update({column: update})
        raise ConfigurationError(f"the SQL timeseries backend does not support {dialect!r}")

    def _rows(self, batch: WriteBatch) -> list[dict[str, Any]]:
        """Parameter rows with every value already converted (raises before any write)."""
        kind, convert = self.kind, self._coerce
        # Histogram and set values repeat across cells: convert each distinct one once.
        # Keyed with the type, so True is not taken for an already converted 1.
        converted_by: dict[tuple[type, Any], Any] = {}

        def coerce(value: Any) -> Any:
            key = (type(value), value)
            try:
                return converted_by[key]
            except KeyError:
                converted_by[key] = result = convert(value)
                return result
            except TypeError:  # unhashable: the column conversion says why
                return convert(value)

        rows: list[dict[str, Any]] = []
        for cell, payload in batch.cells.items():
            base = {
                "name": cell.name,
                "interval": cell.interval,
                "i_time": cell.i_bucket,
                "r_time": cell.i_bucket if cell.r_bucket is None else cell.r_bucket,
            }
            if kind is Kind.SERIES:
                rows.extend({**base, "value": coerce(v)} for v in payload)
            elif kind is Kind.HISTOGRAM:
                merged: dict[Any, int] = {}
                for value, count in payload.items():
                    converted = coerce(value)
                    merged[converted] = merged.get(converted, 0) + count
                rows.extend({**base, "value": v, "count": c} for v, c in merged.items())
            elif kind is Kind.SET:
                rows.extend({**base, "value": v} for v in {coerce(v) for v in payload})
            elif kind is Kind.COUNT:
                rows.append({**base, "value": float(payload)})
            else:
                rows.append({**base, "value": coerce(payload)})
        return rows

    def write(self, batch: WriteBatch, **options: Any) -> None:
        """Convert, then upsert every row in one transaction."""
        if options:
            raise ValidationError(f"unknown SQL backend options {sorted(options)}")
        rows = self._rows(batch)
        if not rows:
            return
        with _mapped_errors(), self.engine.begin() as conn:
            self._execute_upsert(conn, rows)

    def _execute_upsert(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
        """Upsert ``rows``; on PostgreSQL as one ``INSERT ... SELECT FROM unnest(arrays)``.

        psycopg's ``executemany`` sends one statement per row (pipelined); a histogram batch
        has tens of thousands of rows, and per-row statements were most of its write time.
        One array per column is one statement whatever the row count. The rows of one batch
        have distinct keys (aggregated per cell), which ``ON CONFLICT DO UPDATE`` requires.
        """
        if not self._multi_row_ok or len(rows) < 2:
            conn.execute(self._upsert, rows)
            return
        columns = tuple(rows[0])
        arrays = tuple([row[column] for row in rows] for column in columns)
        conn.exec_driver_sql(self._unnest_sql(columns), arrays)

    def _unnest_sql(self, columns: tuple[str, ...]) -> str:
        cached = self._multi_row.get(columns)
        if cached is not None:
            return cached
        dialect = self.engine.dialect
        quote = dialect.identifier_preparer.quote
        table = quote(self.table.name)
        arrays = ", ".join(
            f"%s::{self.table.c[column].type.compile(dialect=dialect)}[]" for column in columns
        )
        sql = (
            f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
            f"SELECT * FROM unnest({arrays})"
        )
        kind = self.kind
        if kind is not Kind.SERIES:
            key = [*_KEY, "value"] if kind in (Kind.HISTOGRAM, Kind.SET) else list(_KEY)
            conflict = f" ON CONFLICT ({', '.join(quote(c) for c in key)})"
            if kind is Kind.SET:
                sql += conflict + " DO NOTHING"
            else:
                column = quote("count" if kind is Kind.HISTOGRAM else "value")
                update = (
                    f"excluded.{column}"
                    if kind is Kind.GAUGE
                    else f"{table}.{column} + excluded.{column}"
                )
                sql += f"{conflict} DO UPDATE SET {column} = {update}"
        self._multi_row[columns] = sql
        return sql

    def _ensure_checkpoints(self) -> None:
        # Created on first use: stores that never checkpoint get no extra table.
        if self._checkpoints_ready:
            return
        with self._checkpoints_lock:
            try:
                with _mapped_errors():
                    self.checkpoints.metadata.create_all(self.engine, checkfirst=True)
            except StoreError:
                # Another process (or engine) created it between the check and the CREATE.
                with _mapped_errors():
                    if not sa.inspect(self.engine).has_table(self.checkpoints.name):
                        raise
            self._checkpoints_ready = True

    def write_checkpointed(self, batch: WriteBatch, advance: Advance) -> bool:
        """Move the checkpoint (compare-and-set) and upsert the rows in one transaction.

        The checkpoint row is updated first, so on PostgreSQL and MariaDB it is locked for the
        rest of the transaction and a racing consumer waits, then finds it moved.
        """
        rows = self._rows(batch)
        self._ensure_checkpoints()
        table = self.checkpoints
        try:
            with _mapped_errors(), self.engine.begin() as conn:
                moved = conn.execute(
                    sa.update(table)
                    .where(table.c.consumer == advance.key, table.c.sequence == advance.expected)
                    .values(sequence=advance.sequence)
                ).rowcount
                if moved != 1:
                    stored = conn.execute(
                        sa.select(table.c.sequence).where(table.c.consumer == advance.key)
                    ).scalar()
                    if stored is not None or advance.expected != 0:
                        return False
                    conn.execute(
                        sa.insert(table).values(consumer=advance.key, sequence=advance.sequence)
                    )
                if rows:
                    self._execute_upsert(conn, rows)
        except StoreError as exc:
            # Two first checkpoints raced and the other insert won: the transaction is gone.
            if isinstance(exc.__cause__, sa.exc.IntegrityError):
                return False
            raise
        return True

    def read_checkpoint(self, key: str) -> int:
        """The stored checkpoint, 0 when none is stored."""
        self._ensure_checkpoints()
        table = self.checkpoints
        with _mapped_errors(), self.engine.connect() as conn:
            found = conn.execute(sa.select(table.c.sequence).where(table.c.consumer == key))
            value = found.scalar()
        return 0 if value is None else int(value)

    def read(self, query: ReadQuery, fetch: Fetch | None = None) -> Rows:
        """One range query over the requested buckets."""
        table = self.table
        first, last = min(query.buckets), max(query.buckets)
        with _mapped_errors(), self.engine.connect() as conn:
            if fetch is not None:
                custom: Rows = fetch(conn, table, query.name, query.interval, first, last)
                return custom
            columns = [table.c.i_time, table.c.r_time, table.c.value]
            if self.kind is Kind.HISTOGRAM:
                columns.append(table.c["count"])
            statement = sa.select(*columns).where(
                table.c.name == query.name,
                table.c.interval == query.interval,
                table.c.i_time >= first,
                table.c.i_time <= last,
            )
            if self.kind is Kind.SERIES:
                statement = statement.order_by(table.c.id)
            result = conn.execute(statement).all()
        return self._collect(result, query.fine, set(query.buckets))

    def _collect(self, result: Sequence[Any], fine: bool, wanted: set[int]) -> Rows:
        kind = self.kind
        rows: Rows = {}
        for row in result:
            i_time = row[0]
            if i_time not in wanted:
                continue
            r_time = row[1] if fine else None
            cells = rows.setdefault(i_time, {})
            if kind is Kind.SERIES:
                cells.setdefault(r_time, []).append(row[2])
            elif kind is Kind.HISTOGRAM:
                cells.setdefault(r_time, {})[row[2]] = int(row[3])
            elif kind is Kind.SET:
                cells.setdefault(r_time, set()).add(row[2])
            else:
                cells[r_time] = row[2]
        return rows

    def properties(self, name: str, intervals: Sequence[str]) -> dict[str, tuple[int, int]]:
        """``MIN``/``MAX`` of the interval buckets per interval."""
        table = self.table
        statement = (
            sa.select(table.c.interval, sa.func.min(table.c.i_time), sa.func.max(table.c.i_time))
            .where(table.c.name == name, table.c.interval.in_(list(intervals)))
            .group_by(table.c.interval)
        )
        with _mapped_errors(), self.engine.connect() as conn:
            return {row[0]: (int(row[1]), int(row[2])) for row in conn.execute(statement)}

    def names(self) -> list[str]:
        """Distinct names in the table (shared by every timeseries of this type)."""
        statement = sa.select(self.table.c.name).distinct().order_by(self.table.c.name)
        with _mapped_errors(), self.engine.connect() as conn:
            return [row[0] for row in conn.execute(statement)]

    def delete(self, name: str) -> None:
        """Delete the rows of ``name``."""
        with _mapped_errors(), self.engine.begin() as conn:
            conn.execute(sa.delete(self.table).where(self.table.c.name == name))

    def delete_all(self) -> None:
        """Delete every row of the table."""
        with _mapped_errors(), self.engine.begin() as conn:
            conn.execute(sa.delete(self.table))

    def expire(self, name: str, cutoffs: Mapping[str, int]) -> None:
        """Delete the buckets at or before each interval's cutoff, in one transaction."""
        table = self.table
        with _mapped_errors(), self.engine.begin() as conn:
            for interval, cutoff in cutoffs.items():
                conn.execute(
                    sa.delete(table).where(
                        table.c.name == name,
                        table.c.interval == interval,
                        table.c.i_time <= cutoff,
                    )
                )

    def ping(self) -> None:
        """Raise ``BackendUnavailable`` unless the database answers now (readiness asks)."""
        with _mapped_errors(), self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        """Dispose of the engine if this store created it."""
        if self._owned:
            self.engine.dispose()
