"""The options every client command shares: where the server is, which namespace, which key.

Defaults come from the environment: ``AION_URL``, ``AION_NAMESPACE`` and ``AION_API_KEY``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from aion.client.http import API_KEY_ENV, DEFAULT_URL, NAMESPACE_ENV, URL_ENV

__all__ = ["DEFAULT_URL", "ApiKeyOption", "NamespaceOption", "UrlOption"]

UrlOption = Annotated[
    str, typer.Option("--url", envvar=URL_ENV, help="The Aion server.", show_default=True)
]
NamespaceOption = Annotated[
    str | None,
    typer.Option("--namespace", "-n", envvar=NAMESPACE_ENV, help="The namespace."),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar=API_KEY_ENV, help="API key, if the server wants one."),
]
