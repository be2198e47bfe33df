"""``aion import``: a JSON-lines or Parquet file into a stream, in acknowledged batches.

Events keep their ``@time``; the server gives every one a new ``@id`` (ids are always assigned
by the server), so an imported event differs from its exported original only in ``@id``.

After each batch the server acknowledges, the import records in its state file how far it got
(bytes and lines, or rows) and the SHA-256 of the part of the file that is done. A re-run of the
same command checks that this part is unchanged and continues after it. A batch that was sent
but whose acknowledgement was lost (a crash in between) is sent again with the same batch id,
and the server, which remembers recent ids, stores it once.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import msgspec

from aion.client.transfer.batches import Batch, BatchPlanner, InvalidRecord, batch_id, check_event
from aion.client.transfer.durable import discard, file_key, prefix_hash, read_state, write_state
from aion.client.transfer.ingest import IngestSender
from aion.client.transfer.plan import (
    ImportState,
    TransferFormat,
    TransferProgress,
    differences,
    import_state_path,
)
from aion.core.events import validate_stream_name
from aion.core.wording import counted, verb
from aion.errors import AionError, RequestError, ResponseError, ValidationError

__all__ = ["ImportResult", "import_file"]

ProgressCallback = Callable[[TransferProgress], None]


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The outcome: events acknowledged (``resumed_from`` of them by earlier runs), batches the
    server had already stored (``duplicates``), and whether the whole file is in."""

    events: int
    batches: int
    duplicates: int
    resumed_from: int
    complete: bool


def import_file(
    sender: IngestSender,
    source: str,
    *,
    url: str,
    namespace: str | None,
    stream: str,
    fmt: TransferFormat,
    batch_size: int,
    state_path: str | None = None,
    restart: bool = False,
    stop: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    stdin: BinaryIO | None = None,
) -> ImportResult:
    """Send the events of ``source`` ("-": ``stdin``, JSON lines only, not resumable) to
    ``stream`` through ``sender``. When ``stop`` is set, return after the batch in flight."""
    validate_stream_name(stream)
    if source == "-":
        if fmt is TransferFormat.PARQUET:
            raise ValidationError("Parquet cannot be read from standard input: give a file", "file")
        if stdin is None:
            raise ValidationError("no standard input to import from", "file")
        fresh = ImportState(
            url=url.rstrip("/"), namespace=namespace, stream=stream, format=fmt,
            batch_size=batch_size, file_key=f"stdin-{uuid.uuid4().hex[:18]}",
        )  # fmt: skip
        run = _Run(sender, fresh, None, stop, on_progress)
        return run.jsonl(stdin, None, hashlib.sha256())

    try:
        handle = Path(source).open("rb")  # noqa: SIM115 (closed by the `with` below)
    except OSError as exc:
        raise ValidationError(f"cannot read {source}: {exc.strerror or exc}", "file") from exc
    with handle:
        size = os.fstat(handle.fileno()).st_size
        key = file_key(handle, size, tail=fmt is TransferFormat.PARQUET)
        path = state_path or import_state_path(source)
        if restart:
            discard(path)
        wanted = ImportState(
            url=url.rstrip("/"), namespace=namespace, stream=stream, format=fmt,
            batch_size=batch_size, file_key=key,
        )  # fmt: skip
        state, done = _resume_state(path, wanted, handle, size, source)
        run = _Run(sender, state, path, stop, on_progress)
        if fmt is TransferFormat.PARQUET:
            result = run.parquet(handle, source)
        else:
            result = run.jsonl(handle, size, done)
    if result.complete:
        Path(path).unlink(missing_ok=True)
    return result


def _resume_state(
    path: str, wanted: ImportState, handle: BinaryIO, size: int, source: str
) -> tuple[ImportState, hashlib._Hash]:
    """The state to continue from, and (JSON lines) the running digest of the part done, with
    ``handle`` positioned after that part."""
    state = read_state(path, ImportState) or wanted
    changed = differences(state.identity(), wanted.identity())
    if changed:
        raise ValidationError(
            f"{path} belongs to a different import ({'; '.join(changed)}); re-run with the "
            "same options to continue it, or with --restart to start over",
            "state",
        )
    done = hashlib.sha256()
    if state.format is TransferFormat.PARQUET:
        unchanged = state.file_key == wanted.file_key
    elif state.offset:
        done = prefix_hash(handle, state.offset)
        unchanged = size >= state.offset and done.hexdigest() == state.prefix_sha256
    else:
        unchanged = True
    if not unchanged:
        raise ValidationError(
            f"{source} changed in the part already imported ({counted(state.events, 'event')}); "
            "re-run with --restart to import it from the start",
            "file",
        )
    return state, done


class _Run:
    """One import run: reads events, cuts batches, sends them and records each acknowledgement."""

    def __init__(
        self,
        sender: IngestSender,
        state: ImportState,
        state_path: str | None,
        stop: threading.Event | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.sender = sender
        self.state = state
        self.state_path = state_path
        self.stop = stop
        self.on_progress = on_progress
        self.resumed_from = state.events
        self.total: int | None = None
        self.planner = BatchPlanner(state.batch_size, first_number=state.batches)

    def jsonl(self, handle: BinaryIO, size: int | None, done: hashlib._Hash) -> ImportResult:
        """Import JSON lines from the current position of ``handle`` (the recorded offset);
        ``done`` is the running digest of the bytes before it."""
        self.total = size
        offset, line = self.state.offset, self.state.line
        for raw in handle:
            if self._stopped():
                return self._result(False)
            before = done.copy()
            done.update(raw)
            line += 1
            event = self._check(raw, "line", line)
            offset += len(raw)
            batch = self.planner.add(event, offset, line)
            if batch is not None:
                # A batch closed before this event (bytes limit) ends where `before` stopped.
                digest = done if batch.end_offset == offset else before
                self._send(batch, digest.hexdigest())
        return self._finish(done.hexdigest())

    def parquet(self, handle: BinaryIO, name: str) -> ImportResult:
        """Import the rows of a Parquet file after the recorded row."""
        from aion.client.transfer.parquet import ParquetEvents

        events = ParquetEvents(handle, name)
        self.total = events.rows
        try:
            for row, raw in events.iter_from(self.state.offset):
                if self._stopped():
                    return self._result(False)
                batch = self.planner.add(self._check(raw, "row", row), row, row)
                if batch is not None:
                    self._send(batch, "")
        finally:
            events.close()
        return self._finish("")

    def _check(self, raw: bytes, unit: str, number: int) -> bytes | None:
        try:
            return check_event(raw, unit, number)
        except InvalidRecord as exc:
            raise InvalidRecord(
                f"{exc.detail}; stopped before sending the batch holding it ({self._sent()})",
                unit,
                number,
            ) from None

    def _sent(self) -> str:
        state = self.state
        unit = "row" if state.format is TransferFormat.PARQUET else "line"
        return (
            f"{counted(state.events, 'event')} in {counted(state.batches, 'batch')} "
            f"{verb(state.events, 'was', 'were')} imported, "
            f"through {unit} {state.line}"
            + ("; fix it and re-run to continue" if self.state_path else "")
        )

    def _send(self, batch: Batch, prefix_sha256: str) -> None:
        body = batch.body()
        try:
            stored = self.sender.send(body, batch_id(self.state.file_key, batch.number, body))
        except ResponseError as exc:
            raise ResponseError(f"{exc}; {self._sent()}", exc.status, exc.body) from exc
        except RequestError as exc:
            raise RequestError(f"{exc}; {self._sent()}") from exc
        except AionError:
            raise
        state = msgspec.structs.replace(
            self.state,
            batches=batch.number + 1,
            events=self.state.events + len(batch),
            duplicates=self.state.duplicates + (0 if stored else 1),
            offset=batch.end_offset,
            line=batch.end_line,
            prefix_sha256=prefix_sha256,
        )
        if self.state_path is not None:
            write_state(self.state_path, state)
        self.state = state
        if self.on_progress is not None:
            self.on_progress(TransferProgress(state.events, state.offset, self.total))

    def _finish(self, prefix_sha256: str) -> ImportResult:
        batch = self.planner.finish()
        if batch is not None:
            self._send(batch, prefix_sha256)
        return self._result(True)

    def _stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _result(self, complete: bool) -> ImportResult:
        state = self.state
        return ImportResult(
            state.events, state.batches, state.duplicates, self.resumed_from, complete
        )
