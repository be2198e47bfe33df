"""``aion config``: the example configuration shipped in the package, and a check of a file.

``aion config example`` prints ``aion.example.toml`` (every setting, with a comment each; the
same file is at the root of the repository), so a pip user starts from it with
``aion config example > aion.toml``. ``aion config check FILE`` reads a file as ``aion serve``
would, rollup rules included, and names the key at fault.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer

from aion.cli.output import fail
from aion.core.wording import counted
from aion.errors import AionError

__all__ = ["EXAMPLE_NAME", "config_app", "example_text"]

EXAMPLE_NAME = "aion.example.toml"

config_app = typer.Typer(
    help="The example aion.toml, and checking a config file.",
    no_args_is_help=True,
)


def example_text() -> str:
    """The text of the ``aion.example.toml`` shipped in the package."""
    return files("aion.server").joinpath(EXAMPLE_NAME).read_text(encoding="utf-8")


@config_app.command("example")
def example() -> None:
    """Print an aion.toml with every setting and a comment each."""
    typer.echo(example_text(), nl=False)


@config_app.command("check")
def check(
    path: Annotated[Path, typer.Argument(help="The aion.toml to check.")],
) -> None:
    """Read a config file as `aion serve --config` does (rollup rules included)."""
    from aion.server.config import AionConfig
    from aion.server.rollups.rules import rollup_rules

    try:
        config = AionConfig.from_toml(path)
        rules = rollup_rules(config)
    except AionError as exc:
        fail(str(exc))
    typer.echo(
        f"{path}: {counted(len(config.backends), 'backend')}, "
        f"{counted(len(config.routes), 'route')}, {counted(len(rules), 'rollup rule')}"
    )
