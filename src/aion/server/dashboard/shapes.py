"""The JSON the dashboard's ``/ui/api`` endpoints answer with, as msgspec Structs.

The same Structs encode the responses and give their OpenAPI schemas, so the documentation
cannot drift from what is sent. Times are epoch milliseconds (``*_ms``), the unit of
JavaScript dates.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from starlette.responses import Response

from aion.core.time import TICKS_PER_MILLISECOND
from aion.server.dashboard.stats import KeySummary, StreamRate

__all__ = [
    "PAGE_RESPONSES",
    "REDIRECT_RESPONSES",
    "STATIC_OPENAPI",
    "BucketNameOut",
    "BucketOut",
    "BucketsOut",
    "ErrorOut",
    "HistoryOut",
    "KeyOut",
    "NamespacesOut",
    "RollupOut",
    "StreamRateOut",
    "StreamsOut",
    "bucket_key_out",
    "encode",
    "openapi_responses",
    "stream_rate_out",
]

_encode = msgspec.json.Encoder().encode
_REF = "#/components/schemas/"


class NamespacesOut(msgspec.Struct, kw_only=True):
    """The namespaces the page offers; ``open`` means any other name may be typed in."""

    default: str
    namespaces: list[str]
    open: bool


class StreamRateOut(msgspec.Struct, kw_only=True):
    """One stream's events in the window: ``per_minute`` is estimated from the newest ``cap``
    events when there were more; ``bins`` are per-minute counts, oldest first (null: not
    counted because of the cap). ``kind``: ``events`` for a stream of the event store (every
    view reads it), ``records`` for a sharded stream the streams engine keeps apart (Redis,
    NATS), which only this list shows."""

    stream: str
    kind: Literal["events", "records"] = "events"
    count: int
    per_minute: float
    estimated: bool
    bins: list[int | None]


class StreamsOut(msgspec.Struct, kw_only=True):
    """The streams of a namespace with their rates; ``truncated``: more streams exist."""

    namespace: str
    now_ms: int
    window_minutes: int
    cap: int
    streams: list[StreamRateOut]
    truncated: bool


class KeyOut(msgspec.Struct, kw_only=True):
    """One Initial State key: its latest value, and recent numeric points ``[ms, value]``
    (booleans as 0/1; text values have none)."""

    key: str
    latest: str | bool | int | float
    latest_ms: int
    count: int
    points: list[tuple[int, float]]


class BucketOut(msgspec.Struct, kw_only=True):
    """A bucket (a stream of ``{key, value, @time}`` events) summarised from its newest
    ``scanned`` events; ``skipped`` of them were not of that shape. ``name``: the bucket name
    ``/api/buckets`` recorded for the stream (null when none was)."""

    namespace: str
    stream: str
    name: str | None = None
    keys: list[KeyOut]
    scanned: int
    skipped: int


class BucketNameOut(msgspec.Struct, kw_only=True):
    """An Initial State bucket: its stream, its bucket key and its newest bucket name."""

    stream: str
    key: str
    name: str


class BucketsOut(msgspec.Struct, kw_only=True):
    """The named buckets of a namespace, by stream."""

    namespace: str
    buckets: list[BucketNameOut]


class HistoryOut(msgspec.Struct, kw_only=True):
    """One key's history: its numeric values downsampled to at most ``max_points`` points
    ``[ms, value]``, its newest ``max_points`` text values ``[ms, text]`` (both oldest first);
    ``truncated``: the scan cap cut older events off."""

    namespace: str
    stream: str
    key: str
    start_ms: int
    end_ms: int
    max_points: int
    points: list[tuple[int, float]]
    texts: list[tuple[int, str]]
    truncated: bool


class RollupOut(msgspec.Struct, kw_only=True):
    """A rollup of one numeric field of a stream: ``points`` are ``[bucket start ms, value]``
    per interval bucket (null value: no events in that bucket)."""

    namespace: str
    stream: str
    field: str
    interval: str
    transform: str
    points: list[tuple[int, float | None]]
    scanned: int
    truncated: bool


class ErrorDetail(msgspec.Struct, kw_only=True):
    """What was wrong, and with which parameter."""

    type: str
    message: str
    field: str | None = None


class ErrorOut(msgspec.Struct, kw_only=True):
    """A refused request."""

    error: ErrorDetail


def stream_rate_out(
    stream: str, rate: StreamRate, kind: Literal["events", "records"] = "events"
) -> StreamRateOut:
    return StreamRateOut(
        stream=stream,
        kind=kind,
        count=rate.count,
        per_minute=round(rate.per_minute, 3),
        estimated=rate.estimated,
        bins=rate.bins,
    )


def bucket_key_out(summary: KeySummary) -> KeyOut:
    return KeyOut(
        key=summary.key,
        latest=summary.latest,
        latest_ms=summary.latest_time // TICKS_PER_MILLISECOND,
        count=summary.count,
        # Gathered newest first while scanning; charts draw oldest first.
        points=[(t // TICKS_PER_MILLISECOND, v) for t, v in reversed(summary.points)],
    )


def encode(body: msgspec.Struct, status: int = 200) -> Response:
    """A JSON response from a Struct; never cached, since the page polls for fresh numbers."""
    return Response(
        _encode(body),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def openapi_responses(shape: type[msgspec.Struct]) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=``: ``shape`` for 200 and ``ErrorOut`` for 400, with nested shapes
    written in place (FastAPI does not register msgspec's components, so a ``$ref`` to them
    would dangle)."""
    _, components = msgspec.json.schema_components([shape, ErrorOut], ref_template=_REF + "{name}")

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(_REF):
                return inline(components[ref.removeprefix(_REF)])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    error = {"application/json": {"schema": inline(components["ErrorOut"])}}
    return {
        200: {"content": {"application/json": {"schema": inline(components[shape.__name__])}}},
        400: {"description": "A bad parameter", "content": error},
        503: {"description": "A backend is unavailable", "content": error},
    }


_SEGMENT = r"(?:[^/.][^/]*|\.[^/.][^/]*|\.\.[^/]+)"
_FILE_TYPES = ["text/html", "text/css", "text/javascript", "image/svg+xml", "image/png"]

PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The dashboard page.", "content": {"text/html": {"schema": {}}}},
}
REDIRECT_RESPONSES: dict[int | str, dict[str, Any]] = {
    308: {
        "description": "To `ui/`: the page uses relative URLs.",
        "headers": {"Location": {"schema": {"type": "string"}}},
    },
}
STATIC_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "path",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": f"^{_SEGMENT}(?:/{_SEGMENT})*$"},
            "description": "A file of the page, below `static/ui` in the package.",
        }
    ],
    "responses": {
        "200": {
            "description": "The file (HTML, CSS, JavaScript, SVG or PNG).",
            "content": {media_type: {"schema": {}} for media_type in _FILE_TYPES},
        },
        "404": {"description": "No such file of the page (plain `not found`)."},
    },
}
"""``openapi_extra`` of ``/ui/static/{path}``."""
