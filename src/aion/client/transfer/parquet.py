"""Events as Parquet (pyarrow, an optional dependency imported here and nowhere else).

The schema, one row per event::

    @id    string   the event's id on the exporting server
    @time  int64    kronos time (100 ns ticks since the epoch, UTC)
    event  string   the whole event as JSON, ``@id`` and ``@time`` included

``event`` is the authority: it round-trips any event exactly, whatever its shape, and it is the
only column ``aion import`` reads. ``@id`` and ``@time`` are there for tools that filter or sort
without parsing JSON. Top-level fields are not flattened into columns: a Parquet schema is fixed
before the first row group, and a stream's fields are not known until its last event.

Rows are written in row groups of at most ``ROW_GROUP_ROWS`` rows or ``ROW_GROUP_BYTES`` bytes of
JSON, compressed with zstd, so writing holds one row group in memory; reading goes by batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from aion.errors import ConfigurationError, ValidationError

__all__ = [
    "EVENT_COLUMN",
    "ID_COLUMN",
    "ROW_GROUP_BYTES",
    "ROW_GROUP_ROWS",
    "TIME_COLUMN",
    "ParquetEvents",
    "SegmentWriter",
    "merge_segments",
    "require_pyarrow",
]

ID_COLUMN = "@id"
TIME_COLUMN = "@time"
EVENT_COLUMN = "event"
ROW_GROUP_ROWS = 50_000
ROW_GROUP_BYTES = 32 * 1024 * 1024
_READ_ROWS = 5000
_FORMAT_KEY = b"aion.format"
_FORMAT_VALUE = b"events/1"


def require_pyarrow() -> Any:
    """The ``pyarrow`` module, or a ConfigurationError that names the extra to install."""
    try:
        import pyarrow  # type: ignore[import-untyped, unused-ignore]
        import pyarrow.parquet  # type: ignore[import-untyped, unused-ignore]
    except ImportError as exc:
        raise ConfigurationError(
            "Parquet needs pyarrow, which is not installed: pip install 'aion[parquet]'"
        ) from exc
    return pyarrow


def _schema(pa: Any) -> Any:
    return pa.schema(
        [
            pa.field(ID_COLUMN, pa.string(), nullable=False),
            pa.field(TIME_COLUMN, pa.int64(), nullable=False),
            pa.field(EVENT_COLUMN, pa.string(), nullable=False),
        ],
        metadata={_FORMAT_KEY: _FORMAT_VALUE},
    )


class SegmentWriter:
    """Writes events to one Parquet file (a path or a binary stream), a row group at a time."""

    def __init__(
        self,
        target: str | BinaryIO,
        row_group_rows: int = ROW_GROUP_ROWS,
        row_group_bytes: int = ROW_GROUP_BYTES,
    ) -> None:
        self._pa = require_pyarrow()
        self._schema = _schema(self._pa)
        self._writer = self._pa.parquet.ParquetWriter(target, self._schema, compression="zstd")
        self._row_group_rows = row_group_rows
        self._row_group_bytes = row_group_bytes
        self._ids: list[str] = []
        self._times: list[int] = []
        self._events: list[str] = []
        self._nbytes = 0
        self.rows = 0

    def add(self, event_id: str, time: int, event_json: str) -> None:
        """Buffer one event; a full row group is written out."""
        self._ids.append(event_id)
        self._times.append(time)
        self._events.append(event_json)
        self._nbytes += len(event_json)
        self.rows += 1
        if len(self._events) >= self._row_group_rows or self._nbytes >= self._row_group_bytes:
            self.flush()

    def flush(self) -> None:
        """Write the buffered events as one row group."""
        if not self._events:
            return
        pa = self._pa
        table = pa.Table.from_arrays(
            [
                pa.array(self._ids, pa.string()),
                pa.array(self._times, pa.int64()),
                pa.array(self._events, pa.string()),
            ],
            schema=self._schema,
        )
        self._writer.write_table(table)
        self._ids, self._times, self._events, self._nbytes = [], [], [], 0

    def close(self) -> None:
        """Write what is buffered and the file's footer."""
        self.flush()
        self._writer.close()


def merge_segments(paths: list[str], target: str) -> None:
    """Copy the row groups of several segment files into one Parquet file, one at a time."""
    pa = require_pyarrow()
    with pa.parquet.ParquetWriter(target, _schema(pa), compression="zstd") as writer:
        for path in paths:
            segment = pa.parquet.ParquetFile(path)
            try:
                for group in range(segment.num_row_groups):
                    writer.write_table(segment.read_row_group(group))
            finally:
                segment.close()


class ParquetEvents:
    """The events of a Parquet file written by ``aion export`` (or any file with a string
    ``event`` column of JSON objects), read in batches."""

    def __init__(self, handle: BinaryIO, name: str) -> None:
        pa = require_pyarrow()
        try:
            self._file = pa.parquet.ParquetFile(handle)
        except (pa.ArrowException, OSError) as exc:
            raise ValidationError(f"{name} is not a readable Parquet file: {exc}", "file") from exc
        schema = self._file.schema_arrow
        index = schema.get_field_index(EVENT_COLUMN)
        if index < 0 or not pa.types.is_string(schema.field(index).type):
            raise ValidationError(
                f"{name} has no string column {EVENT_COLUMN!r} of JSON events "
                f"(its columns: {', '.join(schema.names)})",
                "file",
            )
        self._pa = pa
        self.rows: int = self._file.metadata.num_rows

    def iter_from(self, first_row: int) -> Iterator[tuple[int, bytes]]:
        """``(row number from 1, event JSON)`` for the rows after the first ``first_row``."""
        metadata = self._file.metadata
        start_group, row = 0, 0
        # Skip whole row groups by their counts in the footer, without reading them.
        while start_group < metadata.num_row_groups:
            group_rows = metadata.row_group(start_group).num_rows
            if row + group_rows > first_row:
                break
            row += group_rows
            start_group += 1
        groups = list(range(start_group, metadata.num_row_groups))
        if not groups:
            return
        for batch in self._file.iter_batches(
            batch_size=_READ_ROWS, row_groups=groups, columns=[EVENT_COLUMN]
        ):
            for value in batch.column(0).to_pylist():
                row += 1
                if row <= first_row:
                    continue
                yield row, b"null" if value is None else value.encode()

    def close(self) -> None:
        """Release the file."""
        self._file.close()
