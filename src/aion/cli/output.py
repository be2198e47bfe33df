"""Terminal output for the CLI: errors on stderr with exit status 2, progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from aion.core.wording import counted

__all__ = ["EventsDone", "fail", "progress"]

_stderr = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    _stderr.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


class EventsDone(ProgressColumn):
    """A progress bar's count of events, in words (``1 event``, ``2,000 events``)."""

    def render(self, task: Task) -> Text:
        return Text(counted(int(task.completed), "event"))


@contextmanager
def progress(verb: str, what: str) -> Iterator[Callable[[int], None]]:
    """A live count on stderr (only when it is a terminal); yields ``advance(n)``."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn(f"{verb} {what}:"),
        EventsDone(),
        TimeElapsedColumn(),
        console=_stderr,
        transient=True,
    ) as bar:
        task = bar.add_task(verb, total=None)
        yield lambda n: bar.advance(task, n)
