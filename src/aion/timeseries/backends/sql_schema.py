"""Tables and value types of the SQL timeseries backend.

``value_type`` accepts Kairos's names (``blob``, ``bool``/``boolean``, ``clob``/``text``, ``date``,
``datetime``, ``decimal``, ``float``, ``int``/``int64``/``integer``/``long``,
``str``/``string``/``unicode``, ``time``), the matching Python types, or an SQLAlchemy type class
or instance. Values are converted to the column's Python type before a write; a value that
does not convert is a :class:`aion.errors.ValidationError`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from aion.errors import ConfigurationError, ValidationError
from aion.timeseries.protocol import Kind

try:
    import sqlalchemy as sa
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ConfigurationError(
        "the SQL timeseries backend needs SQLAlchemy: pip install 'aion[sql]'"
    ) from exc

__all__ = [
    "build_checkpoint_table",
    "build_table",
    "coercer",
    "exact_string",
    "prefixed_table_name",
    "resolve_value_type",
]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# PostgreSQL cuts identifiers at 63 bytes (MySQL at 64); the longest derived name is the
# checkpoint table, the table's name plus "_checkpoints".
_MAX_TABLE = 63 - len("_checkpoints")


def prefixed_table_name(prefix: str, table_name: str) -> str:
    """``<prefix>_<table_name>``, or ``table_name`` when ``prefix`` is empty.

    The prefix must be an SQL identifier (letters, digits, ``_``; a Kairos-style trailing
    ``:`` is dropped), and the result short enough that no database truncates it, since two
    truncated names could meet in one table.
    """
    if not isinstance(prefix, str):
        raise ValidationError(f"prefix must be a string, not {prefix!r}", field="prefix")
    if not prefix:
        return table_name
    cleaned = prefix[:-1] if prefix.endswith((":", "_")) else prefix
    if not _IDENTIFIER.fullmatch(cleaned):
        raise ValidationError(
            f"prefix {prefix!r} is not an SQL identifier: use letters, digits and _, "
            "starting with a letter or _",
            field="prefix",
        )
    name = f"{cleaned}_{table_name}"
    if len(name) > _MAX_TABLE:
        raise ValidationError(
            f"prefix {prefix!r} makes the table name {name!r} longer than {_MAX_TABLE} characters",
            field="prefix",
        )
    return name


def resolve_value_type(value_type: Any, string_length: int, text_length: int) -> Any:
    """An SQLAlchemy type instance for a ``value_type`` option."""
    if isinstance(value_type, sa.types.TypeEngine):
        return value_type
    if isinstance(value_type, type) and issubclass(value_type, sa.types.TypeEngine):
        return value_type()
    named: dict[Any, Callable[[], Any]] = {
        "blob": lambda: sa.LargeBinary(text_length),
        bytes: lambda: sa.LargeBinary(text_length),
        "bool": sa.Boolean,
        "boolean": sa.Boolean,
        bool: sa.Boolean,
        "clob": lambda: sa.Text(text_length),
        "text": lambda: sa.Text(text_length),
        "date": sa.Date,
        dt.date: sa.Date,
        "datetime": sa.DateTime,
        dt.datetime: sa.DateTime,
        "decimal": lambda: sa.Numeric(36, 12),
        Decimal: lambda: sa.Numeric(36, 12),
        "float": sa.Double,
        float: sa.Double,
        "int": sa.BigInteger,
        "int64": sa.BigInteger,
        "integer": sa.BigInteger,
        "long": sa.BigInteger,
        int: sa.BigInteger,
        "str": lambda: sa.String(string_length),
        "string": lambda: sa.String(string_length),
        "unicode": lambda: sa.String(string_length),
        str: lambda: sa.String(string_length),
        "time": sa.Time,
        dt.time: sa.Time,
    }
    try:
        factory = named[value_type]
    except (KeyError, TypeError):
        raise ValidationError(f"unsupported SQL value_type {value_type!r}", "value_type") from None
    return factory()


def coercer(column_type: Any, text_length: int) -> Callable[[Any], Any]:
    """A function converting a value to ``column_type``'s Python type, or refusing it."""
    try:
        python_type: type = column_type.python_type
    except NotImplementedError:
        return lambda value: value
    length = getattr(column_type, "length", None)

    def convert(value: Any) -> Any:
        try:
            if python_type is str:
                if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
                    raise TypeError(type(value).__name__)
                converted: Any = str(value)
            elif python_type in (float, int, Decimal):
                if isinstance(value, bool | bytes):
                    raise TypeError(type(value).__name__)
                converted = python_type(value)
                if python_type is int and isinstance(value, float) and converted != value:
                    raise ValueError("not a whole number")
            elif isinstance(value, python_type):
                converted = value
            else:
                raise TypeError(type(value).__name__)
        except (TypeError, ValueError, InvalidOperation) as exc:
            raise ValidationError(
                f"value {value!r} does not fit the {python_type.__name__} column ({exc})",
                field="value",
            ) from None
        if length is not None and isinstance(converted, str | bytes) and len(converted) > length:
            raise ValidationError(f"value is longer than the column ({length})", field="value")
        return converted

    return convert


class _Utf8Bytes(sa.types.TypeDecorator[str]):
    """Text kept as UTF-8 bytes in a ``VARBINARY``: compared byte for byte.

    MariaDB's and MySQL's usual collations fold case (``'Hits' = 'hits'``) and ignore
    trailing spaces (``'hits ' = 'hits'``), and even ``utf8mb4_bin`` pads, so names, interval
    names and string values under a unique key would merge. ``VARBINARY`` never does.
    """

    impl = sa.types.VARBINARY
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> bytes | None:
        return None if value is None else value.encode()

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return value.decode() if isinstance(value, bytes | bytearray) else value

    @property
    def python_type(self) -> type:
        return str


def exact_string(length: int) -> Any:
    """A ``VARCHAR(length)`` that compares exactly on every database: binary on MySQL and
    MariaDB (4 bytes per character), the plain type elsewhere (SQLite and PostgreSQL already
    compare exactly)."""
    exact = _Utf8Bytes(4 * length)
    return sa.String(length).with_variant(exact, "mysql", "mariadb")


def build_table(
    kind: Kind, table_name: str, string_length: int, text_length: int, value_type: Any
) -> sa.Table:
    """The table of one type, on its own MetaData."""
    metadata = sa.MetaData()
    value = resolve_value_type(value_type, string_length, text_length)
    if type(value) is sa.String:  # a string value is part of histogram and set keys
        value = exact_string(value.length or string_length)
    key: list[sa.schema.SchemaItem] = [
        sa.Column("name", exact_string(string_length), nullable=False),
        # Interval names are short; a narrower column keeps MariaDB's 3072-byte key limit
        # within reach of (name, interval, ..., value) keys at the default string_length.
        sa.Column("interval", exact_string(min(string_length, 64)), nullable=False),
        sa.Column("i_time", sa.BigInteger, nullable=False),
        sa.Column("r_time", sa.BigInteger, nullable=False),
    ]
    if kind is Kind.SERIES:
        identity = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
        return sa.Table(
            table_name,
            metadata,
            sa.Column("id", identity, primary_key=True, autoincrement=True),
            *key,
            sa.Column("value", value),
            sa.Index(f"{table_name}_lookup", "name", "interval", "i_time"),
        )
    if kind is Kind.COUNT:
        return sa.Table(
            table_name,
            metadata,
            *key,
            sa.Column("value", sa.Double, nullable=False),
            sa.PrimaryKeyConstraint("name", "interval", "i_time", "r_time"),
        )
    if kind is Kind.GAUGE:
        return sa.Table(
            table_name,
            metadata,
            *key,
            sa.Column("value", value),
            sa.PrimaryKeyConstraint("name", "interval", "i_time", "r_time"),
        )
    extra: list[sa.schema.SchemaItem] = (
        [sa.Column("count", sa.BigInteger, nullable=False)] if kind is Kind.HISTOGRAM else []
    )
    return sa.Table(
        table_name,
        metadata,
        *key,
        sa.Column("value", value, nullable=False),
        *extra,
        sa.PrimaryKeyConstraint("name", "interval", "i_time", "r_time", "value"),
    )


def build_checkpoint_table(table_name: str, string_length: int) -> sa.Table:
    """Consumer checkpoints kept beside a type's table, so one transaction covers both."""
    return sa.Table(
        table_name,
        sa.MetaData(),
        sa.Column("consumer", exact_string(string_length), primary_key=True),
        sa.Column("sequence", sa.BigInteger, nullable=False),
    )
