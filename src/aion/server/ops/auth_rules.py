"""Who may do what: the pure decisions behind API keys, with no I/O.

Three things are decided here, each from plain values so they are unit-tested without sockets:

- which API family a request belongs to (a :class:`~aion.server.families.Family`, re-exported
  here), the scope it needs and the namespace it touches (:func:`requirement_of`);
- which credential a request carries (:func:`credential_of`): ``Authorization: Bearer <key>``
  everywhere, HTTP Basic with the key as the password (browsers, for the dashboard),
  ``X-IS-AccessKey`` on the Initial State API, and the SigV4 access key id on the Kinesis API;
- whether a key's grant allows a scope in a namespace (:func:`authorize`).

Scopes: ``read`` (gets, stream listings, schemas, iterators and records, consumer checkpoints
and leases, timeseries queries, the dashboard, metrics and docs), ``write`` (puts and
ingestion of any kind) and ``admin`` (deleting events, creating, trimming and deleting
streams). ``admin`` implies ``read`` and ``write``; ``write`` does not imply ``read``, so a
shipper's key cannot read what it sends.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl

from aion.errors import Forbidden, ValidationError
from aion.server.families import Family

__all__ = [
    "ALL_NAMESPACES",
    "PUBLIC_PATHS",
    "SINGLE_HEADERS",
    "SINGLE_QUERY",
    "Family",
    "Grant",
    "RepeatedField",
    "Requirement",
    "Scope",
    "authorize",
    "credential_of",
    "effective_scopes",
    "is_documentation",
    "is_loopback",
    "parse_scopes",
    "requirement_of",
    "single_valued",
]

ALL_NAMESPACES = "*"
"""A key's namespace that stands for every namespace."""

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
"""The paths answered without a key (probes must work without secrets); so is ``GET /``,
the redirect to the dashboard, which tells nothing."""

_KINESIS_PREFIX = "Kinesis_20131202."
SINGLE_HEADERS = frozenset(
    {"x-amz-target", "authorization", "x-is-accesskey", "x-is-bucketkey", "content-encoding",
     "content-length"}
)  # fmt: skip
"""Headers that decide who a request is, what it does or how its body reads: a request that
repeats one is refused, since two readers could each take a different copy."""
SINGLE_QUERY = frozenset({"namespace", "accessKey", "bucketKey"})
"""Query parameters with the same role, refused when repeated for the same reason."""
_KINESIS_ADMIN = frozenset({"CreateStream", "DeleteStream"})
_KINESIS_WRITE = frozenset({"PutRecord", "PutRecords"})
_KRONOS_BODY_SCOPES = {
    "/1.0/events/put": "write",
    "/1.0/events/get": "read",
    "/1.0/events/delete": "admin",
    "/1.0/streams": "read",
    "/1.0/streams/infer_schema": "read",
}
# Timeseries reads that Grafana-style clients send as POST.
_TIMESERIES_POST_READS = frozenset({"query", "search", "annotations", "tag-keys", "tag-values"})
_DASHBOARD_SHELL = frozenset({"/ui", "/ui/", "/ui/api/namespaces"})
_DOCS_PATHS = frozenset({"/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"})
_SIGV4_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


class Scope(StrEnum):
    """What a key may do."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a request needs, parsed once: the key check decides on these values and the
    handlers act on the same ones (they never read the headers or query again).

    ``scope`` None: public. ``namespace`` None: the request touches no namespace.
    ``namespace_in_body``: the namespace is the JSON body's ``namespace`` member (Kronos), or
    ``namespace`` when the body has none; the handler, which decodes the body, authorizes it.
    ``namespace_from_key``: the API has no namespace of its own (Initial State, Samsara), so a
    key for one namespace writes there, and ``namespace`` applies without keys or with an
    all-namespace key. ``operation``: the Kinesis operation named by ``X-Amz-Target``
    (without its ``Kinesis_20131202.`` prefix), or None when it names none."""

    family: Family
    scope: Scope | None
    namespace: str | None
    namespace_in_body: bool = False
    namespace_from_key: bool = False
    operation: str | None = None


class RepeatedField(ValidationError):
    """A security-relevant header or query parameter was sent more than once."""


@dataclass(frozen=True, slots=True)
class Grant:
    """What one key allows: a namespace (or ``*``) and its scopes."""

    key_id: str
    namespace: str
    scopes: frozenset[Scope]


def parse_scopes(text: str) -> frozenset[Scope]:
    """``"read,write"`` → the scopes; an unknown or empty list raises ``ValueError``."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError("give at least one scope: read, write or admin")
    unknown = sorted(set(names) - {s.value for s in Scope})
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}: use read, write or admin")
    return frozenset(Scope(name) for name in names)


def effective_scopes(scopes: frozenset[Scope]) -> frozenset[Scope]:
    """The scopes a key really has: ``admin`` brings ``read`` and ``write``."""
    if Scope.ADMIN in scopes:
        return frozenset(Scope)
    return scopes


def _query_namespace(query: Mapping[str, str], default: str) -> str:
    return query.get("namespace") or default


def single_valued(
    raw_headers: Iterable[tuple[bytes, bytes]], query_string: bytes
) -> tuple[dict[str, str], dict[str, str]]:
    """The headers (lower-case names) and query parameters of a request, each name once.

    Raises ``RepeatedField`` naming the first of :data:`SINGLE_HEADERS` or
    :data:`SINGLE_QUERY` that appears twice; other repeated names keep their last value.
    """
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw_headers:
        name = raw_name.decode("latin-1").lower()
        if name in headers and name in SINGLE_HEADERS:
            raise RepeatedField(f"the {name} header may be sent only once", name)
        headers[name] = raw_value.decode("latin-1")
    query: dict[str, str] = {}
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in query and name in SINGLE_QUERY:
            raise RepeatedField(f"the query parameter {name} may be given only once", name)
        query[name] = value
    return headers, query


def requirement_of(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    default_namespace: str,
) -> Requirement:
    """The family, scope and namespace of a request. ``headers`` has lower-case names."""
    method = method.upper()
    if path in PUBLIC_PATHS or method == "OPTIONS":
        # OPTIONS: CORS preflights never carry credentials; the CORS layer answers them.
        return Requirement(Family.OPERATIONS, None, None)
    if path == "/" and method == "GET":
        # The redirect to the dashboard tells nothing; the dashboard then asks for a key.
        return Requirement(Family.OPERATIONS, None, None)
    if path.startswith("/1.0/"):
        body_scope = _KRONOS_BODY_SCOPES.get(path)
        if body_scope is None:
            return Requirement(Family.KRONOS, Scope.READ, None)
        return Requirement(Family.KRONOS, Scope(body_scope), default_namespace, True)
    if path.startswith("/v1/ingest/"):
        parts = path.removeprefix("/v1/ingest/").split("/")
        namespace = parts[0] if len(parts) >= 2 and parts[0] else default_namespace
        return Requirement(Family.INGEST, Scope.WRITE, namespace)
    if path == "/api" or path.startswith("/api/"):
        scope = Scope.WRITE if method == "POST" else Scope.READ
        return Requirement(Family.INITIALSTATE, scope, default_namespace, namespace_from_key=True)
    if path == "/v1/events" or path == "/v1/api-status":
        scope = Scope.WRITE if path == "/v1/events" else Scope.READ
        return Requirement(Family.SAMSARA, scope, default_namespace, namespace_from_key=True)
    if path == "/v1/streams" or path.startswith("/v1/streams/"):
        scope = _streams_scope(method, path.removeprefix("/v1/streams").strip("/").split("/"))
        return Requirement(Family.STREAMS, scope, _query_namespace(query, default_namespace))
    if path == "/" and method == "POST":
        target = headers.get("x-amz-target", "")
        operation = target[len(_KINESIS_PREFIX) :] if target.startswith(_KINESIS_PREFIX) else None
        return Requirement(
            Family.KINESIS, _kinesis_scope(operation), default_namespace, operation=operation
        )
    if path == "/v1/timeseries" or path.startswith("/v1/timeseries/"):
        scope = _timeseries_scope(method, path)
        return Requirement(Family.TIMESERIES, scope, _query_namespace(query, default_namespace))
    if path in _DASHBOARD_SHELL or path.startswith("/ui/static/"):
        # The page itself and the list of namespaces to offer touch no namespace: any read
        # key may load them (the list shows only the key's own namespace).
        return Requirement(Family.DASHBOARD, Scope.READ, None)
    if path.startswith("/ui/"):
        namespace = _query_namespace(query, default_namespace)
        return Requirement(Family.DASHBOARD, Scope.READ, namespace)
    if path == "/metrics":
        # Metrics name the namespaces and streams of every tenant: only an all-namespace key.
        return Requirement(Family.OPERATIONS, Scope.READ, ALL_NAMESPACES)
    if is_documentation(path):
        return Requirement(Family.OPERATIONS, Scope.READ, None)
    return Requirement(Family.OTHER, Scope.READ, None)


def is_documentation(path: str) -> bool:
    """Whether ``path`` is the OpenAPI document, a page that renders it, or one of their
    files: pages a person opens in a browser, like the dashboard."""
    return path in _DOCS_PATHS or path.startswith("/docs/assets/")


def _streams_scope(method: str, parts: list[str]) -> Scope:
    """``parts``: the path after ``/v1/streams``, split (``[""]`` for the collection)."""
    if parts == [""]:
        return Scope.ADMIN if method == "POST" else Scope.READ
    if len(parts) == 1:
        return Scope.ADMIN if method == "DELETE" else Scope.READ
    action = parts[1]
    if action == "trim":
        return Scope.ADMIN
    if action in ("record", "records"):
        return Scope.WRITE
    # iterators, reads, and consumer-group checkpoints and leases: a reader's own state.
    return Scope.READ


def _kinesis_scope(operation: str | None) -> Scope:
    if operation in _KINESIS_ADMIN:
        return Scope.ADMIN
    if operation in _KINESIS_WRITE:
        return Scope.WRITE
    return Scope.READ


def _timeseries_scope(method: str, path: str) -> Scope:
    if method in ("GET", "HEAD"):
        return Scope.READ
    if method == "DELETE":
        return Scope.ADMIN
    if path.rstrip("/").rsplit("/", 1)[-1] in _TIMESERIES_POST_READS:
        return Scope.READ
    return Scope.WRITE


def credential_of(
    family: Family, headers: Mapping[str, str], query: Mapping[str, str]
) -> str | None:
    """The API key a request presents, or None. ``headers`` has lower-case names."""
    if family is Family.INITIALSTATE:
        # The ISStreamer client sends its access key here (or as ?accessKey=).
        access_key = headers.get("x-is-accesskey") or query.get("accessKey")
        if access_key:
            return access_key
    authorization = headers.get("authorization", "").strip()
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return value
    if scheme == "basic" and value:
        return _basic_password(value)
    if scheme == "aws4-hmac-sha256":
        # boto3 cannot send a bearer token: the key travels as the access key id.
        match = _SIGV4_CREDENTIAL.search(value)
        return match.group(1) if match else None
    return None


def _basic_password(value: str) -> str | None:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return password or user or None


def key_namespace(grant: Grant, fallback: str) -> str:
    """The namespace a key writes to where the API names none: its own, or ``fallback`` for a
    key that holds every namespace."""
    return fallback if grant.namespace == ALL_NAMESPACES else grant.namespace


def authorize(grant: Grant, scope: Scope, namespace: str | None) -> None:
    """Raise ``Forbidden`` unless ``grant`` has ``scope`` in ``namespace``."""
    if scope not in effective_scopes(grant.scopes):
        have = ",".join(sorted(grant.scopes))
        raise Forbidden(f"API key {grant.key_id} has scopes [{have}]; this needs {scope}")
    if namespace is None or grant.namespace == ALL_NAMESPACES:
        return
    if namespace == ALL_NAMESPACES:
        raise Forbidden(
            f"API key {grant.key_id} is for namespace {grant.namespace!r}; this needs a key "
            "for every namespace ('*')"
        )
    if namespace != grant.namespace:
        raise Forbidden(
            f"API key {grant.key_id} is for namespace {grant.namespace!r}, not {namespace!r}"
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` (what ``aion serve --host`` got) listens on this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve anywhere: treat it as exposed
