"""API-key checks as a plain ASGI middleware, answering refusals in each API family's shape.

The decisions (which scope and namespace a request needs, what a key allows) live in
:mod:`aion.server.auth_rules`; this module does the I/O around them: it refreshes the
:class:`KeyRing`, reads the Kronos body to find its ``namespace`` (and hands the same bytes on
to the handler), and writes the 401 or 403. While no key exists, every request passes.

Every request's namespace is put in the ASGI scope as ``aion.namespace`` (and the key's id as
``aion.key_id``), for the access log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aion.errors import Forbidden, Unauthorized
from aion.server.auth_rules import (
    Family,
    authorize,
    credential_of,
    key_namespace,
    requirement_of,
)
from aion.server.config import AionConfig
from aion.server.keys import KeyStore
from aion.server.keys_ring import KeyRing

__all__ = [
    "KEY_ID_SCOPE",
    "NAMESPACE_SCOPE",
    "REFUSAL_SCOPE",
    "AuthMiddleware",
    "install_auth",
    "refusal_body",
    "scope_value",
]

NAMESPACE_SCOPE = "aion.namespace"
KEY_ID_SCOPE = "aion.key_id"
REFUSAL_SCOPE = "aion.refused"
"""Where a refusal (``unauthorized`` or ``forbidden``) is noted in the scope, for metrics."""
_encode = msgspec.json.Encoder().encode


class _NamespaceOnly(msgspec.Struct):
    """Decodes only ``namespace`` from a Kronos body; msgspec skips the rest cheaply."""

    namespace: str | None = None


def refusal_body(family: Family, status: int, message: str) -> tuple[bytes, str]:
    """The body and content type of a 401 or 403 in ``family``'s error shape."""
    unauthorized = status == 401
    if family in (Family.KRONOS, Family.INGEST):
        return _encode({"@errors": [message], "@success": False}), "application/json"
    if family is Family.INITIALSTATE:
        kind = "UNAUTHORIZED" if unauthorized else "FORBIDDEN"
        return _encode({"message": {"error": {"type": kind, "message": message}}}), (
            "application/json"
        )
    if family is Family.SAMSARA:
        return _encode({"status": "ERROR", "message": message}), "application/json"
    if family is Family.KINESIS:
        kind = "UnrecognizedClientException" if unauthorized else "AccessDeniedException"
        return _encode({"__type": kind, "message": message}), "application/x-amz-json-1.1"
    kind = "Unauthorized" if unauthorized else "Forbidden"
    return _encode({"error": {"type": kind, "message": message, "field": None}}), (
        "application/json"
    )


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _query(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode("latin-1")
    return dict(parse_qsl(raw, keep_blank_values=True))


class AuthMiddleware:
    """Require an API key with the right scope and namespace once any key exists."""

    def __init__(self, app: ASGIApp, keyring: KeyRing, default_namespace: str) -> None:
        self.app = app
        self.keyring = keyring
        self.default_namespace = default_namespace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        query = _query(scope)
        method = scope.get("method", "GET")
        need = requirement_of(method, scope["path"], query, headers, self.default_namespace)
        namespace = need.namespace
        scope[NAMESPACE_SCOPE] = namespace
        if need.scope is None:
            await self.app(scope, receive, send)
            return
        await self.keyring.refresh()
        if not self.keyring.enabled:
            await self.app(scope, receive, send)
            return
        # Only with keys in force is a body read twice (here for its namespace, then by the
        # handler): the open server's hot path stays free of that cost.
        if need.namespace_in_body and scope["type"] == "http":
            body, receive = await _buffer_body(receive)
            namespace = _body_namespace(body) or self.default_namespace
            scope[NAMESPACE_SCOPE] = namespace
        try:
            grant = self.keyring.authenticate(credential_of(need.family, headers, query))
            scope[KEY_ID_SCOPE] = grant.key_id
            if need.namespace_from_key and namespace is not None:
                namespace = key_namespace(grant, namespace)
                scope[NAMESPACE_SCOPE] = namespace
            authorize(grant, need.scope, namespace)
        except Unauthorized as exc:
            await _refuse(scope, send, need.family, 401, str(exc))
            return
        except Forbidden as exc:
            await _refuse(scope, send, need.family, 403, str(exc))
            return
        await self.app(scope, receive, send)


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that hands the same body on first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # The client went away; let the handler see the disconnect.
            pending: list[Message] = [message]
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
            break
    body = b"".join(chunks)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return body, replay


def _body_namespace(body: bytes) -> str | None:
    try:
        return msgspec.json.decode(body, type=_NamespaceOnly).namespace
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # the handler refuses the body with its own error


async def _refuse(scope: Scope, send: Send, family: Family, status: int, message: str) -> None:
    scope[REFUSAL_SCOPE] = "unauthorized" if status == 401 else "forbidden"
    if scope["type"] == "websocket":
        # Closing before accepting makes the server answer the handshake with 403.
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    body, content_type = refusal_body(family, status, message)
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", _challenge(family)))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _challenge(family: Family) -> bytes:
    # A browser on the dashboard gets a login prompt (the key as the password).
    if family is Family.DASHBOARD:
        return b'Basic realm="aion", charset="UTF-8"'
    return b'Bearer realm="aion"'


def scope_value(scope: Mapping[str, Any], name: str) -> str | None:
    """A value this middleware put in the scope (``NAMESPACE_SCOPE``, ``KEY_ID_SCOPE``)."""
    value = scope.get(name)
    return value if isinstance(value, str) else None


def install_auth(app: FastAPI, config: AionConfig) -> KeyRing:
    """Add the key check to ``app`` as its innermost middleware, wherever this is called: the
    body limit applies first, refusals still get CORS headers, and the access log and metrics
    see them."""
    keyring = KeyRing(KeyStore(config.data_dir))
    app.state.keyring = keyring
    # add_middleware puts a middleware outside the others; appending puts it inside them.
    app.user_middleware.append(
        Middleware(AuthMiddleware, keyring=keyring, default_namespace=config.default_namespace)
    )
    return keyring
