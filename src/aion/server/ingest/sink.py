"""The ingestion contract (``EventSink``) and what the ingestion routers share.

The Initial State and Samsara routers validate and reshape events, then hand them to the sink
found at ``request.app.state.sink``. A sink raises ``BackendUnavailable`` when storage is down
(the routers answer 503) and ``ValidationError`` for events it refuses (400).
"""

from __future__ import annotations

import zlib
from typing import Any, Protocol

from fastapi import Request

from aion.errors import ConfigurationError, ValidationError
from aion.server.errors import TooLarge
from aion.server.ops.auth import NAMESPACE_SCOPE

__all__ = [
    "DEFAULT_NAMESPACE",
    "BodyTooLarge",
    "EventSink",
    "get_sink",
    "gunzip",
    "namespace_for",
    "read_body",
]

#: The namespace the routers write to unless told otherwise (and unless the app's config says).
DEFAULT_NAMESPACE = "default"


class EventSink(Protocol):
    """Where ingested events go: a batch of JSON objects for one stream of one namespace."""

    async def ingest(
        self,
        namespace: str,
        stream: str,
        events: list[dict[str, Any]],
        partition_keys: list[str] | None = None,
        batch_id: str | None = None,
    ) -> bool | None:
        """Store ``events`` (all or none). ``partition_keys``, when given, has one key per
        event and decides its shard; ``batch_id`` is the client's id for the request, and a
        sink that remembers ids answers False for one it stored before."""
        ...


def get_sink(request: Request) -> EventSink:
    """The FastAPI dependency that finds the sink on the app."""
    sink: EventSink | None = getattr(request.app.state, "sink", None)
    if sink is None:
        raise ConfigurationError("no event sink: set app.state.sink before serving")
    return sink


def namespace_for(request: Request, configured: str | None) -> str:
    """The namespace to write to: the router's setting, else the one the key check chose (an
    API key for one namespace writes there), else the app config's default."""
    if configured is not None:
        return configured
    chosen = request.scope.get(NAMESPACE_SCOPE)
    if isinstance(chosen, str) and chosen:
        return chosen
    config = getattr(request.app.state, "config", None)
    name = getattr(config, "default_namespace", None)
    return name if isinstance(name, str) and name else DEFAULT_NAMESPACE


class BodyTooLarge(TooLarge):
    """A request body (after decompression) over the route's limit; answered with 413."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, gunzipped when ``Content-Encoding: gzip``, refused past ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is over {limit} bytes", "body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is over {limit} bytes", "body")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):  # RFC 9110: x-gzip is gzip
        raise ValidationError(f"unsupported Content-Encoding {encoding!r}", "Content-Encoding")
    return gunzip(body, limit)


_GZIP_MAGIC = b"\x1f\x8b"


def gunzip(body: bytes, limit: int) -> bytes:
    """``body`` inflated: one gzip member, or several in a row (as ``cat a.gz b.gz`` makes),
    at most ``limit`` bytes in all (``BodyTooLarge`` past it). A truncated member, or bytes
    after the last member that are not another member, are refused naming ``body``."""
    out: list[bytes] = []
    size = 0
    rest = body
    while rest:
        if not rest.startswith(_GZIP_MAGIC):
            raise ValidationError(
                f"the gzip body has {len(rest)} bytes after its last member that are not gzip"
                if out
                else "the body is not gzip (it does not begin with a gzip header)",
                "body",
            )
        # Bounded inflation: a small gzip bomb must not become gigabytes in memory.
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            member = inflater.decompress(rest, limit - size + 1)
        except zlib.error as exc:
            raise ValidationError(f"the gzip body is corrupt: {exc}", "body") from exc
        size += len(member)
        if size > limit or inflater.unconsumed_tail:
            raise BodyTooLarge(f"the decompressed body is over {limit} bytes", "body")
        if not inflater.eof:
            raise ValidationError("the gzip body is truncated", "body")
        out.append(member)
        rest = inflater.unused_data
    return b"".join(out)
