"""``aion export``: a stream's events, in id order, to a JSON-lines or Parquet file.

To a file, the export is resumable. It writes ``FILE.partial`` and, every ``checkpoint_events``
events, makes the data durable and then records the last exported ``@id`` in
``FILE.partial.state``. A re-run of the same command reads the state, drops whatever was written
after that checkpoint, and asks the server for the events strictly after that id, so the output
holds every event of the range exactly once. The complete file is renamed to ``FILE`` at once.

JSON lines are appended to ``FILE.partial`` (cut back to the recorded length on resume). Parquet
cannot be appended to once closed, so each checkpoint closes a segment file in
``FILE.partial.d/``; at the end the segments are merged, a row group at a time, into one file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import msgspec

from aion.client.sync import Client
from aion.client.transfer.durable import (
    discard,
    fsync_directory,
    read_state,
    sync_file,
    write_state,
)
from aion.client.transfer.plan import (
    ExportPaths,
    ExportState,
    TransferFormat,
    TransferProgress,
    differences,
    export_paths,
)
from aion.core.events import ID_FIELD, TIMESTAMP_FIELD, validate_stream_name
from aion.errors import AionError, ValidationError

__all__ = ["DEFAULT_CHECKPOINT_EVENTS", "ExportResult", "export_stream"]

DEFAULT_CHECKPOINT_EVENTS = 100_000
_PROGRESS_EVERY = 1000
_encode = msgspec.json.Encoder().encode

ProgressCallback = Callable[[TransferProgress], None]


@dataclass(frozen=True, slots=True)
class ExportResult:
    """The outcome: events in the output (``resumed_from`` of them by earlier runs), and
    whether the export finished (False when it was stopped and can be resumed)."""

    events: int
    resumed_from: int
    complete: bool
    output: str


class _Sink(Protocol):
    """Where exported events go; ``checkpoint`` makes them durable and says how far it got."""

    def add(self, event_id: str, time: int, line: bytes) -> None: ...
    def checkpoint(self, state: ExportState) -> ExportState: ...
    def finish(self) -> None: ...


class _JsonlSink:
    """JSON lines appended to a file (``durable``: fsynced at checkpoints) or to stdout."""

    def __init__(self, handle: BinaryIO, length: int, *, durable: bool) -> None:
        self._handle = handle
        self._length = length
        self._durable = durable

    def add(self, event_id: str, time: int, line: bytes) -> None:
        self._handle.write(line + b"\n")
        self._length += len(line) + 1

    def checkpoint(self, state: ExportState) -> ExportState:
        if self._durable:
            sync_file(self._handle)
        return msgspec.structs.replace(state, bytes=self._length)

    def finish(self) -> None:
        if self._durable:
            sync_file(self._handle)
            self._handle.close()
        else:
            self._handle.flush()


class _ParquetSink:
    """Parquet segments, one per checkpoint, merged at the end; or one stream (stdout)."""

    def __init__(self, segments: str | None, first_segment: int, stdout: BinaryIO | None) -> None:
        from aion.client.transfer.parquet import SegmentWriter

        self._writer_type = SegmentWriter
        self._segments = segments
        self._number = first_segment
        self._writer: Any = SegmentWriter(stdout) if stdout is not None else None

    def _path(self, number: int) -> str:
        assert self._segments is not None
        return str(Path(self._segments) / f"{number:06d}.parquet")

    def add(self, event_id: str, time: int, line: bytes) -> None:
        if self._writer is None:
            self._writer = self._writer_type(self._path(self._number))
        self._writer.add(event_id, time, line.decode())

    def checkpoint(self, state: ExportState) -> ExportState:
        if self._segments is None or self._writer is None:
            return state
        self._writer.close()
        self._writer = None
        with Path(self._path(self._number)).open("rb") as handle:
            os.fsync(handle.fileno())
        fsync_directory(self._segments)
        self._number += 1
        return msgspec.structs.replace(state, segments=self._number)

    def finish(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def merge(self, target: str, count: int) -> None:
        """Turn ``count`` segments into the one file ``target``."""
        from aion.client.transfer.parquet import SegmentWriter, merge_segments

        paths = [self._path(n) for n in range(count)]
        if count == 1:
            Path(paths[0]).replace(target)
        elif count == 0:
            SegmentWriter(target).close()  # an empty range is a valid, empty file
        else:
            merge_segments(paths, target)
        with Path(target).open("rb") as handle:
            os.fsync(handle.fileno())


def export_stream(
    client: Client,
    stream: str,
    output: str,
    *,
    fmt: TransferFormat,
    start: str | None,
    end: str | None,
    start_time: int,
    end_time: int,
    restart: bool = False,
    checkpoint_events: int = DEFAULT_CHECKPOINT_EVENTS,
    stop: threading.Event | None = None,
    on_progress: ProgressCallback | None = None,
    stdout: BinaryIO | None = None,
) -> ExportResult:
    """Export ``stream`` in ``[start_time, end_time]`` to ``output`` ("-": ``stdout``).

    ``start`` and ``end`` are the options as typed: a resumed export must repeat them, and then
    uses the times resolved by its first run. When ``stop`` is set the export checkpoints and
    returns an incomplete result; a later call with the same arguments continues it.
    """
    validate_stream_name(stream)
    if fmt is TransferFormat.PARQUET:
        from aion.client.transfer.parquet import require_pyarrow

        require_pyarrow()  # before any file or request: a missing extra changes nothing
    if checkpoint_events < 1:
        raise ValidationError("checkpoint_events must be at least 1", "checkpoint_events")
    wanted = ExportState(
        url=client.url.rstrip("/"), namespace=client.namespace, stream=stream, format=fmt,
        start=start, end=end, start_time=start_time, end_time=end_time,
    )  # fmt: skip
    if output == "-":
        if stdout is None:
            raise ValidationError("no standard output to export to", "output")
        sink: _Sink = (
            _JsonlSink(stdout, 0, durable=False)
            if fmt is TransferFormat.JSONL
            else _ParquetSink(None, 0, stdout)
        )
        state = _run(client, sink, wanted, None, checkpoint_events, stop, on_progress)
        sink.finish()
        return ExportResult(state.events, 0, not _stopped(stop), output)

    paths = export_paths(output)
    if restart:
        discard(paths.state, paths.partial, paths.segments)
    state = _resume_state(paths, wanted)
    resumed_from = state.events
    sink = _open_sink(paths, fmt, state)
    try:
        state = _run(client, sink, state, paths.state, checkpoint_events, stop, on_progress)
    finally:
        sink.finish()
    if _stopped(stop):
        return ExportResult(state.events, resumed_from, False, output)
    if isinstance(sink, _ParquetSink):
        sink.merge(paths.partial, state.segments)
    # State first: a crash before the rename leaves a partial without a state, which the next
    # run discards and redoes; the reverse order could leave a state without its partial.
    Path(paths.state).unlink(missing_ok=True)
    fsync_directory(Path(paths.state).parent)
    Path(paths.partial).replace(output)
    fsync_directory(Path(output).parent)
    discard(paths.segments)
    return ExportResult(state.events, resumed_from, True, output)


def _stopped(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def _resume_state(paths: ExportPaths, wanted: ExportState) -> ExportState:
    state = read_state(paths.state, ExportState)
    if state is None:
        discard(paths.partial, paths.segments)  # leftovers of a run that never checkpointed
        write_state(paths.state, wanted)  # fixes the resolved times for a resume
        return wanted
    changed = differences(state.identity(), wanted.identity())
    if changed:
        raise ValidationError(
            f"{paths.state} belongs to a different export ({'; '.join(changed)}); re-run "
            "with the same options to continue it, or with --restart to start over",
            "state",
        )
    return state


def _open_sink(paths: ExportPaths, fmt: TransferFormat, state: ExportState) -> _Sink:
    if fmt is TransferFormat.PARQUET:
        sink = _ParquetSink(paths.segments, state.segments, None)
        Path(paths.segments).mkdir(exist_ok=True)
        for leftover in Path(paths.segments).iterdir():
            # Segments past the checkpoint were cut short by the interruption: redo them.
            if not leftover.stem.isdigit() or int(leftover.stem) >= state.segments:
                leftover.unlink()
        return sink
    try:
        # The sink owns the handle and closes it in finish().
        handle = Path(paths.partial).open("r+b" if state.bytes else "wb")  # noqa: SIM115
    except FileNotFoundError:
        handle = None
    if handle is None or os.fstat(handle.fileno()).st_size < state.bytes:
        if handle is not None:
            handle.close()
        raise ValidationError(
            f"{paths.partial} is missing or shorter than {paths.state} records; "
            "re-run with --restart to start over",
            "state",
        )
    handle.truncate(state.bytes)  # whatever follows the checkpoint may end mid-line
    handle.seek(state.bytes)
    return _JsonlSink(handle, state.bytes, durable=True)


def _run(
    client: Client,
    sink: _Sink,
    state: ExportState,
    state_path: str | None,
    checkpoint_events: int,
    stop: threading.Event | None,
    on_progress: ProgressCallback | None,
) -> ExportState:
    """Copy events into ``sink`` from just after ``state.last_id``; the final state."""
    events, last_id, pending = state.events, state.last_id, 0

    def checkpoint() -> None:
        nonlocal state, pending
        state = msgspec.structs.replace(sink.checkpoint(state), last_id=last_id, events=events)
        if state_path is not None:
            write_state(state_path, state)
        pending = 0

    source = client.get(state.stream, state.start_time, state.end_time, start_id=state.last_id)
    try:
        for event in source:
            event_id = event.get(ID_FIELD)
            stamp = event.get(TIMESTAMP_FIELD)
            if not isinstance(event_id, str) or not isinstance(stamp, int):
                raise ValidationError(f"the server sent an event without @id/@time: {event}")
            sink.add(event_id, stamp, _encode(event))
            events, last_id, pending = events + 1, event_id, pending + 1
            if pending >= checkpoint_events:
                checkpoint()
            if on_progress is not None and events % _PROGRESS_EVERY == 0:
                on_progress(TransferProgress(events))
            if _stopped(stop):
                break
    except AionError:
        # The source failed between two events, so what was written is whole: keep it.
        checkpoint()
        raise
    if pending or state_path is None:
        checkpoint()
    if on_progress is not None:
        on_progress(TransferProgress(events))
    return state
