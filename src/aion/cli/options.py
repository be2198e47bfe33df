"""The options every client command shares: where the server is, which namespace, which key.

Defaults come from the environment: ``AION_URL``, ``AION_NAMESPACE`` and ``AION_API_KEY``.
"""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["DEFAULT_URL", "ApiKeyOption", "NamespaceOption", "UrlOption"]

DEFAULT_URL = "http://127.0.0.1:8151"

UrlOption = Annotated[
    str, typer.Option("--url", envvar="AION_URL", help="The Aion server.", show_default=True)
]
NamespaceOption = Annotated[
    str | None,
    typer.Option("--namespace", "-n", envvar="AION_NAMESPACE", help="The namespace."),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="AION_API_KEY", help="API key, if the server wants one."),
]
