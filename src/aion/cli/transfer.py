"""``aion export`` and ``aion import``: a stream to a file and back, JSON lines or Parquet.

Thin over ``aion.client.transfer``: this module reads the options, draws the progress bar (on
stderr, only when it is a terminal), turns Ctrl-C into a clean stop at a checkpoint, and maps
errors to a message and exit status 2. An interrupted transfer exits with 130 and continues
when the same command is run again.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath
from types import FrameType
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from aion.cli.options import DEFAULT_URL, ApiKeyOption, NamespaceOption, UrlOption
from aion.cli.output import fail
from aion.client import Client
from aion.client.transfer import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CHECKPOINT_EVENTS,
    IngestSender,
    TransferFormat,
    TransferProgress,
    export_stream,
    guess_format,
    import_file,
)
from aion.core.time import parse_time
from aion.core.wording import counted, verb
from aion.errors import AionError

__all__ = ["export", "import_", "register"]

INTERRUPTED = 130  # the shell's status for a process stopped by SIGINT

FormatOption = Annotated[
    str | None,
    typer.Option("--format", "-f", help="jsonl or parquet; default from the file name."),
]
RestartOption = Annotated[
    bool, typer.Option("--restart", help="Discard an interrupted run's state and start over.")
]

_stderr = Console(stderr=True)


def export(
    stream: Annotated[str, typer.Argument(help="Stream to export.")],
    output: Annotated[
        str, typer.Option("--output", "-o", help="File to write, or - for standard output.")
    ] = "-",
    fmt: FormatOption = None,
    start: Annotated[str | None, typer.Option(help="Start time (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="End time (inclusive); default now.")] = None,
    restart: RestartOption = False,
    checkpoint_every: Annotated[
        int, typer.Option(min=1, help="Events between checkpoints (fsync and state write).")
    ] = DEFAULT_CHECKPOINT_EVENTS,
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Write a stream's events, in id order, as JSON lines or Parquet.

    Into a file, the export is resumable: it writes FILE.partial and FILE.partial.state, and
    running the same command again after a crash or Ctrl-C continues after the last event
    saved. The finished file replaces FILE at once.
    """
    try:
        chosen = guess_format(output, fmt)
        start_time = 0 if start is None else parse_time(start)
        end_time = parse_time("now") if end is None else parse_time(end)
    except AionError as exc:
        _fail(str(exc))
    stdout = sys.stdout.buffer if output == "-" else None
    try:
        with (
            Client(url, namespace=namespace, api_key=api_key) as client,
            _stop_on_interrupt() as stop,
            _progress_bar(f"export {stream}", None, unit=None) as report,
        ):
            result = export_stream(
                client, stream, output, fmt=chosen, start=start, end=end,
                start_time=start_time, end_time=end_time, restart=restart, stop=stop,
                checkpoint_events=checkpoint_every,
                on_progress=report, stdout=stdout,
            )  # fmt: skip
    except AionError as exc:
        _fail(str(exc))
    except BrokenPipeError:
        return
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    if not result.complete:
        _interrupted(result.events)
        raise typer.Exit(INTERRUPTED)
    where = "standard output" if output == "-" else output
    resumed = f" ({result.resumed_from:,} by an earlier run)" if result.resumed_from else ""
    _say(f"exported {counted(result.events, 'event')}{resumed} from {stream} to {where}")


def import_(
    source: Annotated[str, typer.Argument(help="File to read, or - for standard input.")],
    stream: Annotated[
        str | None,
        typer.Option("--stream", "-s", help="Stream to write to; default: the file's name."),
    ] = None,
    fmt: FormatOption = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Events per request.")
    ] = DEFAULT_BATCH_SIZE,
    state: Annotated[
        str | None, typer.Option(help="State file; default FILE.import.state.")
    ] = None,
    restart: RestartOption = False,
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Store the events of a JSON-lines or Parquet file in a stream.

    Events keep their @time; the server gives each a new @id. The import is resumable: after
    each acknowledged batch it records its position in FILE.import.state, and running the same
    command again continues from there; a batch sent twice is stored once.
    """
    if stream is None:
        if source == "-":
            _fail("--stream is required when reading standard input")
        stream = PurePath(source).name.split(".")[0]
    try:
        chosen = guess_format(source, fmt)
    except AionError as exc:
        _fail(str(exc))
    rows = chosen is TransferFormat.PARQUET
    total = None if source == "-" or rows else _size(source)
    try:
        with (
            IngestSender(url, stream, namespace=namespace, api_key=api_key) as sender,
            _stop_on_interrupt() as stop,
            _progress_bar(f"import {stream}", total, unit="rows" if rows else "bytes") as report,
        ):
            result = import_file(
                sender, source, url=url, namespace=namespace, stream=stream, fmt=chosen,
                batch_size=batch_size, state_path=state, restart=restart, stop=stop,
                on_progress=report, stdin=sys.stdin.buffer if source == "-" else None,
            )  # fmt: skip
    except AionError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot read {source}: {exc.strerror or exc}")
    if not result.complete:
        _interrupted(result.events)
        raise typer.Exit(INTERRUPTED)
    done = result.duplicates
    duplicates = f" ({counted(done, 'batch')} {verb(done, 'was', 'were')} already stored)"
    _say(
        f"imported {counted(result.events, 'event')} into {stream} in "
        f"{counted(result.batches, 'batch')}{duplicates if done else ''}"
    )


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``import`` to the ``aion`` command."""
    app.command("export")(export)
    app.command("import")(import_)


def _fail(message: str) -> NoReturn:
    fail(message)  # fail() escapes rich markup such as 'aion[parquet]'


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _interrupted(events: int) -> None:
    _say(f"interrupted after {counted(events, 'event')}; run the same command to continue")


def _size(path: str) -> int | None:
    try:
        return Path(path).stat().st_size
    except OSError:
        return None  # the import itself reports the unreadable file


@contextmanager
def _stop_on_interrupt() -> Iterator[threading.Event]:
    """The first Ctrl-C (or SIGTERM) asks the transfer to stop at its next safe point; the
    default handlers come back at once, so a second Ctrl-C stops it at any point."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def ask(signum: int, frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)

    previous_int = signal.signal(signal.SIGINT, ask)
    previous_term = signal.signal(signal.SIGTERM, ask)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)


class _EventsColumn(ProgressColumn):
    """Events done and their rate."""

    def render(self, task: Task) -> Text:
        events = int(task.fields.get("events", 0))
        elapsed = task.elapsed or 0.0
        rate = f"{events / elapsed:,.0f}/s" if elapsed > 0.5 else "…/s"
        return Text(f"{counted(events, 'event')} {rate}")


@contextmanager
def _progress_bar(
    what: str, total: int | None, *, unit: str | None
) -> Iterator[Callable[[TransferProgress], None]]:
    """A progress bar on stderr when it is a terminal: events and their rate, and for an
    import the position in the file (``unit``: bytes, or rows for Parquet) and its percentage;
    yields the report callback."""
    if not _stderr.is_terminal:
        yield lambda report: None
        return
    columns: list[ProgressColumn] = [TextColumn(what), BarColumn()]
    if unit is not None:
        columns.append(TaskProgressColumn())
        columns.append(
            DownloadColumn()
            if unit == "bytes"
            else TextColumn("{task.completed:,.0f}/{task.total:,.0f} rows")
        )
    columns += [_EventsColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=_stderr, transient=True) as bar:
        task = bar.add_task(what, total=total, events=0)

        def report(progress: TransferProgress) -> None:
            bar.update(task, events=progress.events)
            if progress.total is not None:
                bar.update(task, completed=progress.position, total=progress.total)

        yield report
