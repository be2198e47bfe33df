"""The dashboard page itself: the HTML, CSS and JavaScript shipped in the package under
``static/ui``, served with a Content-Security-Policy of ``'self'`` (no request leaves the
server) and refused outside that folder or for any other file type."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import FileResponse, Response

__all__ = ["STATIC_ROOT", "static_file"]

STATIC_ROOT = Path(__file__).parent / "static" / "ui"
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_SECURITY_HEADERS = {
    # Everything the page needs is served here; the browser refuses anything else.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate on every load so an upgraded server never runs yesterday's script.
    "Cache-Control": "no-cache",
}


def static_file(path: str) -> Response:
    """A file of the page, or 404 for anything outside ``STATIC_ROOT`` or of another type."""
    target = (STATIC_ROOT / path).resolve()
    media_type = _MEDIA_TYPES.get(target.suffix)
    if media_type is None or not target.is_relative_to(STATIC_ROOT.resolve()):
        return Response("not found", status_code=404)
    if not target.is_file():
        return Response("not found", status_code=404)
    return FileResponse(target, media_type=media_type, headers=_SECURITY_HEADERS)
