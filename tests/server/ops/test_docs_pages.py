"""The pages a person opens first: ``GET /`` redirects to the dashboard, and ``/docs`` and
``/redoc`` load everything they need from the server itself (no CDN), so they render offline.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aion.server.app import create_app
from aion.server.ops.docs import ASSETS
from tests.support.browser import launched_chromium
from tests.support.keys import Keys, bearer, memory_config
from tests.support.live import serve

_ASSET_TYPES = ("text/javascript", "text/css", "image/png")
_LINKS = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(create_app(memory_config(tmp_path_factory.mktemp("docs")))) as url:
        yield url


def test_root_redirects_to_the_dashboard(base: str) -> None:
    answer = httpx.get(base + "/", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "ui/"
    page = httpx.get(base + "/", follow_redirects=True)
    assert page.status_code == 200
    assert str(page.url) == base + "/ui/"
    assert page.headers["content-type"].startswith("text/html")


def test_the_redirect_needs_no_key_and_the_dashboard_still_does(
    client: TestClient, keys: Keys
) -> None:
    # tests/server/ops/conftest.py: keys exist.
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "ui/"
    refused = client.get("/ui/")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")
    assert client.get("/ui/", headers=bearer(keys.read)).status_code == 200
    # POST / is still the Kinesis API, which needs a key.
    kinesis = {"x-amz-target": "Kinesis_20131202.ListStreams"}
    assert client.post("/", headers=kinesis, content=b"{}").status_code == 401


def test_docs_assets_need_a_read_key_once_keys_exist(client: TestClient, keys: Keys) -> None:
    for name in ASSETS:
        assert client.get(f"/docs/assets/{name}").status_code == 401
        assert client.get(f"/docs/assets/{name}", headers=bearer(keys.read)).status_code == 200


def test_a_browser_is_asked_for_the_key_on_the_docs(client: TestClient, keys: Keys) -> None:
    # HTTP Basic with the key as the password, as on the dashboard: the browser then sends it
    # with the page's own requests (the document, the assets).
    for path in ["/docs", "/redoc", "/openapi.json", "/docs/assets/swagger-ui.css"]:
        refused = client.get(path)
        assert refused.status_code == 401, path
        assert refused.headers["www-authenticate"].startswith("Basic "), path
        assert client.get(path, auth=("anyone", keys.read)).status_code == 200, path
    # The APIs themselves still challenge for a bearer key.
    assert client.get("/v1/streams").headers["www-authenticate"].startswith("Bearer ")


def _links(html: str) -> list[str]:
    return _LINKS.findall(html)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_every_script_and_style_of_a_docs_page_is_served_here(base: str, path: str) -> None:
    page = httpx.get(base + path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    links = _links(page.text)
    assert any(link.endswith(".js") for link in links), links
    assert "cdn" not in page.text.lower()
    assert "fonts.googleapis" not in page.text
    for link in links:
        absolute = urljoin(base + path, link)
        assert urlsplit(absolute).netloc == urlsplit(base).netloc, link  # same origin
        asset = httpx.get(absolute)
        assert asset.status_code == 200, link
        assert asset.headers["content-type"].startswith(_ASSET_TYPES), link
        assert len(asset.content) > 1000, link
    # The document the page renders is this server's.
    assert "/openapi.json" in page.text


def test_an_unknown_asset_is_not_found(base: str) -> None:
    for name in ["nope.js", "..%2F..%2Fcore.py", "__init__.py"]:
        assert httpx.get(f"{base}/docs/assets/{name}").status_code == 404


def test_the_oauth2_redirect_page_is_local(base: str) -> None:
    page = httpx.get(base + "/docs/oauth2-redirect")
    assert page.status_code == 200
    assert not [link for link in _links(page.text) if "//" in link]


def test_the_openapi_document_lists_the_pages(tmp_path: Path) -> None:
    app: FastAPI = create_app(memory_config(tmp_path))
    paths = app.openapi()["paths"]
    assert paths["/"]["get"]["security"] == []
    assert "307" in paths["/"]["get"]["responses"]
    for path in ["/docs", "/redoc", "/docs/oauth2-redirect", "/docs/assets/{name}"]:
        assert paths[path]["get"]["tags"] == ["operations"], path
    [name] = paths["/docs/assets/{name}"]["get"]["parameters"]
    assert set(name["schema"]["enum"]) == set(ASSETS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as launched:
        yield launched


def _offline_page(browser: Any, base: str) -> tuple[Any, Any, list[str], list[str]]:
    """A page whose requests to anywhere but ``base`` are refused, as with no internet."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    tab.set_default_timeout(60_000)  # a 1.5 MB bundle rendering ~60 operations, on a busy machine
    refused: list[str] = []
    errors: list[str] = []

    def only_the_server(route: Any) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    tab.route("**/*", only_the_server)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return context, tab, refused, errors


def test_swagger_ui_renders_the_operations_offline(browser: Any, base: str) -> None:
    context, tab, refused, errors = _offline_page(browser, base)
    try:
        tab.goto(base + "/docs")
        tab.locator(".opblock-summary-path", has_text="/healthz").first.wait_for()
        assert tab.locator(".opblock").count() > 40
        assert refused == []
        assert errors == []
    finally:
        context.close()


def test_redoc_renders_the_operations_offline(browser: Any, base: str) -> None:
    context, tab, refused, errors = _offline_page(browser, base)
    try:
        tab.goto(base + "/redoc")
        tab.get_by_text("/healthz").first.wait_for(state="attached")
        assert tab.locator("[data-section-id^='operation/']").count() > 40
        assert refused == []
        # ReDoc's sidebar asks for its vendor's logo from a CDN: the page's CSP refuses it
        # before any request is made (the image hides itself), and the browser says so.
        assert [e for e in errors if "cdn.redoc.ly/redoc/logo-mini.svg" not in e] == []
    finally:
        context.close()
