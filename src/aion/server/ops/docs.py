"""The pages a person opens first: ``GET /`` sends a browser to the dashboard, and ``/docs``
(Swagger UI) and ``/redoc`` (ReDoc) render the OpenAPI document with no request leaving the
server.

FastAPI's own documentation pages load Swagger UI and ReDoc from a CDN, so offline (or behind a
firewall) they stay blank. These are the same pages, built by FastAPI's
``get_swagger_ui_html`` and ``get_redoc_html``, pointed at the bundles that the
``fastapi-offline`` package ships, which are served here under ``/docs/assets/`` (only
those four files). ReDoc's Google fonts are left out, so it renders in the browser's own fonts.

The redirect is a 307: where ``/`` leads may change (a browser caches a 301 or 308 for good),
and a redirect tells nothing, so it needs no key (:mod:`aion.server.ops.auth_rules`). Its
``Location`` is relative (``ui/``), so it also holds behind a proxy that mounts the server
under a path.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

__all__ = [
    "ASSETS",
    "ASSETS_PATH",
    "DOCS_URL",
    "OAUTH2_REDIRECT_URL",
    "REDOC_URL",
    "assets_root",
    "install_docs",
]

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_PATH = "/docs/assets"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
"""The files served under ``ASSETS_PATH``, with their media types."""
_ASSETS_PACKAGE = "fastapi_offline"
_CACHE = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
_PAGE_HEADERS = {
    # Nothing leaves the server, and the browser holds the pages to it: ReDoc's sidebar shows
    # a logo from its vendor's CDN, which this refuses (the image then hides itself). Both
    # pages start their bundle with an inline script, and ReDoc searches in a blob: worker.
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_PAGE = {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}
_ROOT_RESPONSES: dict[int | str, dict[str, Any]] = {
    307: {
        "description": "To the dashboard (`ui/`, relative to this URL).",
        "headers": {"Location": {"schema": {"type": "string", "const": "ui/"}}},
    }
}
_ASSET_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "name",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": sorted(ASSETS)},
            "description": "One of the files the documentation pages load.",
        }
    ],
    "responses": {
        "200": {
            "description": "The file.",
            "content": {media_type.split(";")[0]: {"schema": {}} for media_type in ASSETS.values()},
        },
        "404": {"description": "No such file (plain `not found`)."},
    },
}


def assets_root() -> Path:
    """The folder of the installed ``fastapi-offline`` package that holds the bundles (found
    without importing the package, which would build an app of its own)."""
    spec = importlib.util.find_spec(_ASSETS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the fastapi-offline package (Swagger UI and ReDoc for /docs and /redoc) is "
            "missing: pip install fastapi-offline"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def _root_path(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def _held(page: HTMLResponse) -> HTMLResponse:
    """``page`` with the headers that keep it to this server."""
    page.headers.update(_PAGE_HEADERS)
    return page


def install_docs(app: FastAPI) -> None:
    """Add ``GET /``, ``/docs``, ``/docs/oauth2-redirect``, ``/redoc`` and their assets to
    ``app``, which must be built with ``docs_url=None`` and ``redoc_url=None``."""
    folder = assets_root()
    title = app.title

    @app.get(
        "/",
        tags=["operations"],
        status_code=307,
        response_class=Response,
        responses=_ROOT_RESPONSES,
        operation_id="root_redirect",
    )
    async def root() -> Response:
        """Send a browser to the dashboard."""
        return RedirectResponse("ui/", status_code=307)

    @app.get(
        DOCS_URL,
        tags=["operations"],
        response_class=HTMLResponse,
        responses={200: _PAGE},
        operation_id="docs_swagger_ui",
    )
    async def swagger_ui(request: Request) -> HTMLResponse:
        """Swagger UI for this document."""
        root = _root_path(request)
        return _held(
            get_swagger_ui_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{title}: Swagger UI",
                swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
                oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
                # No badge that would ask swagger.io to validate the document.
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get(
        OAUTH2_REDIRECT_URL,
        tags=["operations"],
        response_class=HTMLResponse,
        responses={200: _PAGE},
        operation_id="docs_oauth2",
    )
    async def swagger_ui_redirect() -> HTMLResponse:
        """Swagger UI's OAuth2 redirect page."""
        return _held(get_swagger_ui_oauth2_redirect_html())

    @app.get(
        REDOC_URL,
        tags=["operations"],
        response_class=HTMLResponse,
        responses={200: _PAGE},
        operation_id="docs_redoc",
    )
    async def redoc(request: Request) -> HTMLResponse:
        """ReDoc for this document."""
        root = _root_path(request)
        return _held(
            get_redoc_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{title}: ReDoc",
                redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
                with_google_fonts=False,
            )
        )

    @app.get(
        ASSETS_PATH + "/{name}",
        tags=["operations"],
        response_class=Response,
        openapi_extra=_ASSET_OPENAPI,
        operation_id="docs_asset",
    )
    async def asset(name: str) -> Response:
        """A file of Swagger UI or ReDoc."""
        media_type = ASSETS.get(name)
        if media_type is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(folder / name, media_type=media_type, headers=_CACHE)
