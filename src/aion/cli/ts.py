"""``aion ts``: list the server's rollups and read their timeseries over HTTP.

Each command reads one namespace (``--namespace``, default the server's default namespace):
rollup rules and their timeseries belong to the namespace their rule reads.

* ``aion ts list``: each rule, what it reads and makes, its counters and timeseries names.
* ``aion ts get NAME``: one bucket (``--at`` a time, default now).
* ``aion ts series NAME``: a range of buckets (``--start``, ``--end``, ``--steps``).

Reads print one ``<ISO-8601 UTC time>\\t<value as JSON>`` line per point, or the server's JSON
with ``--json``. Times are as ``aion get`` takes them: ISO-8601, epoch seconds, ``now`` or
relative (``-1h``). Errors go to stderr with exit status 2.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer

from aion.cli.options import DEFAULT_URL, ApiKeyOption, NamespaceOption, UrlOption
from aion.cli.output import fail

__all__ = ["ts_app"]

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


def _request(
    url: str, path: str, params: dict[str, Any], api_key: str | None = None
) -> dict[str, Any]:
    """GET ``path`` and return its JSON, or exit with the server's error message."""
    query = {k: v for k, v in params.items() if v is not None and v is not False}
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(url.rstrip("/") + path, params=query, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {url}: {exc}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            where = f" ({error['field']})" if error.get("field") else ""
            fail(f"{error.get('message')}{where} [HTTP {response.status_code}]")
        fail(f"HTTP {response.status_code}: {response.text[:200]}")
    if not isinstance(body, dict):
        fail(f"unexpected answer from {url}: {response.text[:200]}")
    return body


def _quoted(name: str) -> str:
    return httpx.URL("/" + name).raw_path.decode("ascii")[1:]


def _print_points(body: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    for value, epoch_ms in body.get("datapoints", []):
        moment = datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
        typer.echo(f"{moment}\t{json.dumps(value)}")


@ts_app.command("list")
def list_rollups(
    url: UrlOption = DEFAULT_URL,
    namespace: NamespaceOption = None,
    as_json: JsonOption = False,
    api_key: ApiKeyOption = None,
) -> None:
    """List a namespace's rollup rules, their counters and the timeseries they made."""
    body = _request(url, "/v1/timeseries", {"namespace": namespace}, api_key)
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    for rule in body.get("rollups", []):
        stream = rule["stream"] + ("*" if rule["prefix"] else "")
        stats = rule.get("stats", {})
        state = "" if rule.get("available") else "  [backend unavailable]"
        typer.echo(
            f"{rule['rule']}: {rule['namespace']}/{stream} -> {rule['timeseries']} "
            f"({rule['type']}, {', '.join(rule['intervals'])}; {stats.get('events', 0)} events, "
            f"{stats.get('skipped', 0)} skipped){state}"
        )
        for name in rule.get("names", []):
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
    params = {
        "timestamp": at, "interval": interval, "transform": transform,
        "condense": "true" if condense else None, "rule": rule, "namespace": namespace,
    }  # fmt: skip
    _print_points(_request(url, f"/v1/timeseries/{_quoted(name)}", params, api_key), as_json)


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
    params = {
        "start": start, "end": end, "steps": steps, "interval": interval,
        "transform": transform, "condense": "true" if condense else None,
        "collapse": "true" if collapse else None, "rule": rule, "namespace": namespace,
    }  # fmt: skip
    path = f"/v1/timeseries/{_quoted(name)}/series"
    _print_points(_request(url, path, params, api_key), as_json)
