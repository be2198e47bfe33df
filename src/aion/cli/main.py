"""The ``aion`` command: serve, and use the event API from a shell.

Every client command takes ``--url`` (default ``$AION_URL`` or http://127.0.0.1:8151),
``--namespace`` (default ``$AION_NAMESPACE`` or the server's) and ``--api-key`` (default
``$AION_API_KEY``; a server with keys refuses requests without one, status 401). Times are
ISO-8601, epoch seconds, ``now`` or relative to now (``-10m``, ``-2h``, ``-7d``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from aion.cli.keys import keys_app
from aion.cli.options import DEFAULT_URL, ApiKeyOption, NamespaceOption, UrlOption
from aion.cli.output import fail, progress
from aion.cli.transfer import register as register_transfer
from aion.cli.ts import ts_app
from aion.client import Client
from aion.core.time import parse_time
from aion.errors import AionError

__all__ = ["app"]

app = typer.Typer(
    name="aion",
    help="Aion: an event store, shippers' ingestion APIs, sharded streams and rollups.",
    no_args_is_help=True,
    add_completion=False,
)

BATCH = 1000
app.add_typer(keys_app, name="keys")
app.add_typer(ts_app, name="ts")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8151,
    data: Annotated[Path, typer.Option(help="Data directory (embedded store).")] = Path(
        "aion-data"
    ),
    config: Annotated[
        Path | None, typer.Option(help="aion.toml with backends, routes, namespaces.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    log_format: Annotated[
        str, typer.Option(help="Log lines as text or json (one object per line).")
    ] = "text",
    insecure: Annotated[
        bool,
        typer.Option(help="Listen on a non-loopback address even though no API key exists."),
    ] = False,
    shutdown_timeout: Annotated[
        float, typer.Option(min=0, help="Seconds to let in-flight requests finish on SIGTERM.")
    ] = 30.0,
) -> None:
    """Run the Aion server."""
    from aion.cli.serve import run_server

    if log_format not in ("text", "json"):
        fail(f"--log-format must be text or json, not {log_format!r}")
    try:
        run_server(host=host, port=port, data=data, config=config, workers=workers,
                   log_level=log_level, log_format=log_format, insecure=insecure,
                   shutdown_timeout=shutdown_timeout)  # fmt: skip
    except AionError as exc:
        fail(str(exc))


def _client(url: str, namespace: str | None, api_key: str | None) -> Client:
    return Client(url, namespace=namespace, api_key=api_key)


def _time(value: str | None, default: int, name: str) -> int:
    if value is None:
        return default
    try:
        return parse_time(value)
    except AionError as exc:
        fail(f"--{name}: {exc}")
        raise  # unreachable: fail exits


@app.command()
def put(
    stream: Annotated[str, typer.Argument(help="Stream to write to.")],
    sharded: Annotated[
        bool,
        typer.Option("-s", "--sharded", help="Triton mode: put each line to a sharded stream."),
    ] = False,
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Insert events read as JSON lines from standard input.

    With ``-s`` (Triton's ``put -s``) each line becomes a record {msg, ts} of a sharded
    stream named in TRITON_CONFIG or on the server.
    """
    if sharded:
        from aion.cli.streams import put_lines

        try:
            put_lines(stream, url, os.environ.get("TRITON_CONFIG"), sys.stdin, api_key)
        except AionError as exc:
            fail(str(exc))
        return
    stored = 0
    batch: list[dict[str, Any]] = []
    with _client(url, namespace, api_key) as client, progress("put", stream) as advance:
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as exc:
                fail(f"line {number}: not valid JSON ({exc.msg}); {stored} events were stored")
            if not isinstance(event, dict):
                fail(f"line {number}: an event must be a JSON object; {stored} events were stored")
            batch.append(event)
            if len(batch) >= BATCH:
                stored += _send(client, stream, batch, stored)
                advance(len(batch))
                batch = []
        if batch:
            stored += _send(client, stream, batch, stored)
            advance(len(batch))
    typer.echo(f"stored {stored} events in {stream}", err=True)


def _send(client: Client, stream: str, batch: list[dict[str, Any]], stored: int) -> int:
    try:
        client.put({stream: batch})
    except AionError as exc:
        fail(f"{exc}; {stored} events were stored before this batch")
    return len(batch)


@app.command()
def get(
    stream: Annotated[str, typer.Argument(help="Stream to read.")],
    start: Annotated[str | None, typer.Option(help="Start time (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="End time (inclusive); default now.")] = None,
    order: Annotated[str, typer.Option(help="ascending or descending.")] = "ascending",
    limit: Annotated[int | None, typer.Option(help="At most this many events.")] = None,
    sharded: Annotated[
        bool, typer.Option("-s", "--sharded", help="Triton mode: tail a sharded stream.")
    ] = False,
    shard: Annotated[
        list[int] | None, typer.Option("-d", "--shard", help="Triton mode: shard numbers.")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Write the events of a time range as JSON lines to standard output.

    With ``-s`` (Triton's ``get -s``) tail a sharded stream from its latest record, on the
    shards given with ``-d`` (all by default), until Ctrl-C.
    """
    if sharded:
        from aion.cli.streams import get_records

        try:
            get_records(
                stream, shard or None, url, os.environ.get("TRITON_CONFIG"), sys.stdout,
                api_key=api_key,
            )  # fmt: skip
        except AionError as exc:
            fail(str(exc))
        return
    if order not in ("ascending", "descending"):
        fail(f"--order must be ascending or descending, not {order!r}")
    start_time = _time(start, 0, "start")
    end_time = _time(end, parse_time("now"), "end")
    out = sys.stdout
    try:
        with _client(url, namespace, api_key) as client:
            for event in client.get(stream, start_time, end_time, order=order, limit=limit):
                out.write(json.dumps(event, separators=(",", ":")) + "\n")
    except AionError as exc:
        fail(str(exc))
    except BrokenPipeError:
        pass


@app.command()
def streams(
    url: UrlOption = DEFAULT_URL, namespace: NamespaceOption = None, api_key: ApiKeyOption = None
) -> None:
    """List the streams of a namespace."""
    try:
        with _client(url, namespace, api_key) as client:
            for name in client.streams():
                typer.echo(name)
    except AionError as exc:
        fail(str(exc))


@app.command()
def schema(
    stream: Annotated[str, typer.Argument(help="Stream whose schema to infer.")],
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Print the JSON Schema inferred from the latest 100 events of a stream."""
    try:
        with _client(url, namespace, api_key) as client:
            typer.echo(json.dumps(client.infer_schema(stream)["schema"], indent=2))
    except AionError as exc:
        fail(str(exc))


@app.command()
def delete(
    stream: Annotated[str, typer.Argument(help="Stream to delete from.")],
    start: Annotated[str, typer.Option(help="Start time (inclusive).")],
    end: Annotated[str, typer.Option(help="End time (inclusive).")],
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Delete the events of a time range; print the count per backend."""
    start_time = _time(start, 0, "start")
    end_time = _time(end, 0, "end")
    try:
        with _client(url, namespace, api_key) as client:
            answer = client.delete(stream, start_time, end_time)
    except AionError as exc:
        fail(str(exc))
    for backend, outcome in answer.get(stream, {}).items():
        typer.echo(f"{backend}: {outcome.get('num_deleted')} deleted")


register_transfer(app)  # export, import


def main() -> None:
    """Entry point for ``python -m aion``."""
    app()
