"""The ``aion`` command: serve, and use the event API from a shell.

Every client command takes ``--url`` (default ``$AION_URL`` or http://127.0.0.1:8151),
``--namespace`` (default ``$AION_NAMESPACE`` or the server's) and ``--api-key`` (default
``$AION_API_KEY``; a server with keys refuses requests without one, status 401). Times are
ISO-8601, epoch seconds, ``now`` or relative to now (``-10m``, ``-2h``, ``-7d``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from aion.cli.config import config_app
from aion.cli.keys import keys_app
from aion.cli.options import DEFAULT_URL, ApiKeyOption, NamespaceOption, UrlOption
from aion.cli.output import fail, progress
from aion.cli.streams_admin import streams_app
from aion.cli.transfer import register as register_transfer
from aion.cli.ts import ts_app
from aion.client import Client
from aion.core.time import parse_time
from aion.core.wording import counted, verb
from aion.errors import AionError
from aion.streams.display import readable_event
from aion.version import __version__

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
app.add_typer(streams_app, name="streams")
app.add_typer(config_app, name="config")


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"aion {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print aion's version and exit.",
        ),
    ] = False,
) -> None:
    """Aion: an event store, shippers' ingestion APIs, sharded streams and rollups."""


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
    node_id: Annotated[
        str | None,
        typer.Option(
            envvar="AION_NODE_ID",
            help="This server's name (overrides node_id in the config): one per server of a "
            "cluster, the `server` label of its metrics.",
        ),
    ] = None,
) -> None:
    """Run the Aion server."""
    from aion.cli.serve import run_server

    if log_format not in ("text", "json"):
        fail(f"--log-format must be text or json, not {log_format!r}")
    try:
        run_server(host=host, port=port, data=data, config=config, workers=workers,
                   log_level=log_level, log_format=log_format, insecure=insecure,
                   shutdown_timeout=shutdown_timeout, node_id=node_id)  # fmt: skip
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


TritonConfigOption = Annotated[
    Path | None,
    typer.Option(
        "-c",
        "--config",
        help="Triton mode: the Triton YAML (default $TRITON_CONFIG, else /etc/triton.yaml); "
        "a stream alias defined there uses its name, url and api_key.",
    ),
]


def _given(ctx: typer.Context, name: str, value: str | None) -> str | None:
    """``value`` when it was given on the command line, else None: in Triton mode a config's
    ``url``/``api_key`` come before the environment, an explicit option before both."""
    source = ctx.get_parameter_source(name)
    return value if source is not None and source.name == "COMMANDLINE" else None


@app.command()
def put(
    ctx: typer.Context,
    stream: Annotated[str, typer.Argument(help="Stream to write to.")],
    sharded: Annotated[
        bool,
        typer.Option("-s", "--sharded", help="Triton mode: put each line to a sharded stream."),
    ] = False,
    config: TritonConfigOption = None,
    shards: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=10_000,
            help="Triton mode: create the stream with this many shards if it does not exist "
            "(default: the server's default_stream_shards).",
        ),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Insert events read as JSON lines from standard input.

    With ``-s`` (Triton's ``put -s``) each line becomes a record {msg, ts} of a sharded
    stream (an alias of the Triton config, else a stream name), created on its first put.
    """
    if sharded:
        from aion.cli.streams import put_lines

        try:
            put_lines(
                stream, _given(ctx, "url", url), config, sys.stdin,
                _given(ctx, "api_key", api_key), shards=shards, namespace=namespace,
            )  # fmt: skip
        except AionError as exc:
            fail(str(exc))
        return
    if shards is not None or config is not None:
        fail("--shards and --config are Triton options: use them with -s")
    stored = 0
    batch: list[dict[str, Any]] = []
    with _client(url, namespace, api_key) as client, progress("put", stream) as advance:
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as exc:
                fail(f"line {number}: not valid JSON ({exc.msg}); {_were_stored(stored)}")
            if not isinstance(event, dict):
                fail(f"line {number}: an event must be a JSON object; {_were_stored(stored)}")
            batch.append(event)
            if len(batch) >= BATCH:
                stored += _send(client, stream, batch, stored)
                advance(len(batch))
                batch = []
        if batch:
            stored += _send(client, stream, batch, stored)
            advance(len(batch))
    typer.echo(f"stored {counted(stored, 'event')} in {stream}", err=True)


def _send(client: Client, stream: str, batch: list[dict[str, Any]], stored: int) -> int:
    try:
        client.put({stream: batch})
    except AionError as exc:
        fail(f"{exc}; {_were_stored(stored)} before this batch")
    return len(batch)


def _were_stored(count: int) -> str:
    return f"{counted(count, 'event')} {verb(count, 'was', 'were')} stored"


@app.command(context_settings={"allow_extra_args": True})
def get(
    ctx: typer.Context,
    stream: Annotated[str, typer.Argument(help="Stream to read.")],
    start: Annotated[str | None, typer.Option(help="Start time (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="End time (inclusive); default now.")] = None,
    order: Annotated[str, typer.Option(help="ascending or descending.")] = "ascending",
    limit: Annotated[int | None, typer.Option(help="At most this many events.")] = None,
    sharded: Annotated[
        bool, typer.Option("-s", "--sharded", help="Triton mode: tail a sharded stream.")
    ] = False,
    shard: Annotated[
        list[int] | None,
        typer.Option("-d", "--shard", help="Triton mode: shard numbers (`-d 0 1` or `-d 0 -d 1`)."),
    ] = None,
    config: TritonConfigOption = None,
    raw: Annotated[
        bool,
        typer.Option(help="Print sharded-stream records as stored (data in base64)."),
    ] = False,
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Write the events of a time range as JSON lines to standard output. The records of a
    sharded stream show their data decoded (JSON or msgpack; other bytes as data_base64).

    With ``-s`` (Triton's ``get -s``) tail a sharded stream from its latest record, on the
    shards given with ``-d`` (all by default), until Ctrl-C (or ``--limit`` records).
    """
    shard_numbers = _shard_numbers(ctx.args, shard)
    if sharded:
        from aion.cli.streams import get_records

        try:
            get_records(
                stream, shard_numbers or None, _given(ctx, "url", url), config, sys.stdout,
                limit=limit, api_key=_given(ctx, "api_key", api_key), namespace=namespace,
            )  # fmt: skip
        except AionError as exc:
            fail(str(exc))
        return
    if shard_numbers or config is not None:
        fail("-d/--shard and --config are Triton options: use them with -s")
    if order not in ("ascending", "descending"):
        fail(f"--order must be ascending or descending, not {order!r}")
    start_time = _time(start, 0, "start")
    end_time = _time(end, parse_time("now"), "end")
    out = sys.stdout
    try:
        with _client(url, namespace, api_key) as client:
            for event in client.get(stream, start_time, end_time, order=order, limit=limit):
                shown = event if raw else readable_event(event)
                out.write(json.dumps(shown, separators=(",", ":")) + "\n")
    except AionError as exc:
        fail(str(exc))
    except BrokenPipeError:
        pass


def _shard_numbers(extra: list[str], shard: list[int] | None) -> list[int]:
    """The shard numbers of ``-d``: Triton's ``-d 0 1`` leaves ``1`` as an extra argument."""
    numbers = list(shard or [])
    for word in extra:
        if not numbers or not word.isdigit():
            fail(f"unexpected argument {word!r}")
        numbers.append(int(word))
    return numbers


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
