"""``aion streams``: with no command, the namespace's event streams (Kronos's ``get_streams``);
``create``, ``describe``, ``delete`` and ``list`` manage sharded streams (the native streams
API). Errors go to stderr with exit status 2 (an unknown stream says so by name).
"""

from __future__ import annotations

from typing import Annotated

import typer

from aion.cli.options import DEFAULT_URL, ApiKeyOption, NamespaceOption, UrlOption
from aion.cli.output import fail
from aion.client import Client
from aion.client.streams import StreamInfo, StreamsClient
from aion.errors import AionError

__all__ = ["describe_lines", "streams_app"]

streams_app = typer.Typer(
    help="List event streams; create, describe, delete and list sharded streams.",
    invoke_without_command=True,
)


@streams_app.callback()
def _event_streams(
    ctx: typer.Context,
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """With no command: list the event streams of a namespace, one name a line."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        with Client(url, namespace=namespace, api_key=api_key) as client:
            for name in client.streams():
                typer.echo(name)
    except AionError as exc:
        fail(str(exc))


def _retention(seconds: int | None) -> str:
    return "records kept forever" if seconds is None else f"records kept {seconds} s"


def describe_lines(info: StreamInfo) -> list[str]:
    """A sharded stream as ``aion streams describe`` prints it: a summary line, then one line
    per shard (number, id, the sequence numbers it holds, its hash-key range)."""
    count = len(info.shards)
    lines = [
        f"{info.name}: {count} shard{'' if count == 1 else 's'} in namespace "
        f"{info.namespace}, {_retention(info.retention_seconds)}"
    ]
    for shard in info.shards:
        if shard.ending_sequence == 0 or shard.ending_sequence < shard.starting_sequence:
            held = "empty"
        else:
            held = f"sequences {shard.starting_sequence}..{shard.ending_sequence}"
        lines.append(
            f"  {shard.shard}  {shard.shard_id}  {held}  "
            f"hash keys {shard.starting_hash_key}..{shard.ending_hash_key}"
        )
    return lines


def _streams_client(url: str, namespace: str | None, api_key: str | None) -> StreamsClient:
    return StreamsClient(url, namespace=namespace, api_key=api_key)


@streams_app.command()
def create(
    name: Annotated[str, typer.Argument(help="The sharded stream to create.")],
    shards: Annotated[int, typer.Option(min=1, max=10_000, help="Number of shards.")] = 1,
    retention: Annotated[
        int | None,
        typer.Option(min=1, help="Seconds to keep records (default: forever)."),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Create a sharded stream (again with as many shards changes nothing; another shard
    count is an error)."""
    try:
        with _streams_client(url, namespace, api_key) as client:
            info = client.create_stream(name, shards, retention)
    except AionError as exc:
        fail(str(exc))
    typer.echo("\n".join(describe_lines(info)))


@streams_app.command()
def describe(
    name: Annotated[str, typer.Argument(help="The sharded stream to describe.")],
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Print a sharded stream's shards, their sequence numbers and hash-key ranges."""
    try:
        with _streams_client(url, namespace, api_key) as client:
            info = client.describe_stream(name)
    except AionError as exc:
        fail(str(exc))
    typer.echo("\n".join(describe_lines(info)))


@streams_app.command()
def delete(
    name: Annotated[str, typer.Argument(help="The sharded stream to delete.")],
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Delete a sharded stream with its records, checkpoints and leases."""
    try:
        with _streams_client(url, namespace, api_key) as client:
            client.delete_stream(name)
    except AionError as exc:
        fail(str(exc))
    typer.echo(f"deleted {name}")


@streams_app.command("list")
def list_streams(
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List the sharded streams of a namespace, one name a line (over SQL the event streams
    too: they read as streams of one shard)."""
    try:
        with _streams_client(url, namespace, api_key) as client:
            names = client.list_streams()
    except AionError as exc:
        fail(str(exc))
    for name in names:
        typer.echo(name)
