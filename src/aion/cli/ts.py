"""``aion ts``: list the server's rollups and read their timeseries over HTTP.

Each command reads one namespace (``--namespace``, default the server's default namespace):
rollup rules and their timeseries belong to the namespace their rule reads.

* ``aion ts list``: each rule, what it reads and makes, its counters and timeseries names.
* ``aion ts get NAME``: one bucket (``--at`` a time, default now).
* ``aion ts series NAME``: a range of buckets (``--start``, ``--end``, ``--steps``).

Reads print one ``<ISO-8601 UTC time>\\t<value as JSON>`` line per point, or the server's JSON
with ``--json``. Times are as ``aion get`` takes them: ISO-8601, epoch seconds, ``now`` or
relative (``-1h``). Errors go to stderr with exit status 2. The requests are
:class:`aion.client.TimeseriesClient`'s.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from aion.cli.options import DEFAULT_URL, ApiKeyOption, NamespaceOption, UrlOption
from aion.cli.output import fail
from aion.client import TimeseriesClient, TimeseriesPoints
from aion.core.wording import counted
from aion.errors import AionError

__all__ = ["ts_app"]

T = TypeVar("T")

ts_app = typer.Typer(
    help="Timeseries rollups: list them and read their buckets.", no_args_is_help=True
)

RuleOption = Annotated[
    str | None, typer.Option(help="The rule, when several could have made the timeseries.")
]
IntervalOption = Annotated[
    str | None, typer.Option(help="An interval of the rule (default: its first).")
]
TransformOption = Annotated[
    str | None, typer.Option(help="mean, count, min, max, sum or rate (comma-separated).")
]
CondenseOption = Annotated[bool, typer.Option(help="Merge the resolution rows of a fine interval.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the server's JSON answer.")]


def _read(url: str, api_key: str | None, read: Callable[[TimeseriesClient], T]) -> T:
    """``read`` with a client; any error ends the command with its message, exit status 2."""
    try:
        with TimeseriesClient(url, api_key=api_key) as client:
            return read(client)
    except AionError as exc:
        fail(str(exc))


def _print_points(points: TimeseriesPoints, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(points.to_json(), indent=2))
        return
    for point in points.datapoints:
        moment = point.time.isoformat().replace("+00:00", "Z")
        typer.echo(f"{moment}\t{json.dumps(point.value)}")


@ts_app.command("list")
def list_rollups(
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    as_json: JsonOption = False,
    api_key: ApiKeyOption = None,
) -> None:
    """List a namespace's rollup rules, their counters and the timeseries they made."""
    rules = _read(url, api_key, lambda client: client.list(namespace=namespace))
    if as_json:
        typer.echo(json.dumps({"rollups": [rule.to_json() for rule in rules]}, indent=2))
        return
    for rule in rules:
        stream = rule.stream + ("*" if rule.prefix else "")
        state = "" if rule.available else "  [backend unavailable]"
        typer.echo(
            f"{rule.rule}: {rule.namespace}/{stream} -> {rule.timeseries} "
            f"({rule.type}, {', '.join(rule.intervals)}; "
            f"{counted(rule.stats.get('events', 0), 'event')}, "
            f"{rule.stats.get('skipped', 0):,} skipped){state}"
        )
        for name in rule.names:
            typer.echo(f"  {name}")


@ts_app.command("get")
def get_bucket(
    name: Annotated[str, typer.Argument(help="The timeseries name.")],
    at: Annotated[str | None, typer.Option("--at", help="A time in the bucket.")] = None,
    interval: IntervalOption = None,
    transform: TransformOption = None,
    condense: CondenseOption = False,
    rule: RuleOption = None,
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the bucket holding a time (default now)."""
    points = _read(
        url, api_key,
        lambda client: client.get(
            name, at, interval=interval, transform=transform, condense=condense, rule=rule,
            namespace=namespace,
        ),
    )  # fmt: skip
    _print_points(points, as_json)


@ts_app.command("series")
def get_series(
    name: Annotated[str, typer.Argument(help="The timeseries name.")],
    start: Annotated[str | None, typer.Option(help="The first bucket's time.")] = None,
    end: Annotated[str | None, typer.Option(help="The last bucket's time.")] = None,
    steps: Annotated[int | None, typer.Option(help="How many buckets.")] = None,
    interval: IntervalOption = None,
    transform: TransformOption = None,
    condense: CondenseOption = False,
    collapse: Annotated[bool, typer.Option(help="Merge the range into one point.")] = False,
    rule: RuleOption = None,
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print every bucket of a range, oldest first."""
    points = _read(
        url, api_key,
        lambda client: client.series(
            name, start=start, end=end, steps=steps, interval=interval, transform=transform,
            condense=condense, collapse=collapse, rule=rule, namespace=namespace,
        ),
    )  # fmt: skip
    _print_points(points, as_json)
