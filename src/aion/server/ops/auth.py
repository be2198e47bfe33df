"""API-key checks as a plain ASGI middleware, answering refusals in each API family's shape.

The decisions (which scope and namespace a request needs, what a key allows) live in
:mod:`aion.server.ops.auth_rules`; this module does the I/O around them: it parses each request
once (refusing a repeated security-relevant header with 400), refreshes the :class:`KeyRing`,
and writes the 401 or 403. Where only the body names the namespace (Kronos), the handler that
decodes the body authorizes it with :func:`authorize_namespace`. While no key exists, every
request passes the key check. While a cluster server has not yet read its shared keys store
(its database is down), requests that need a key are answered 503.

Every request's namespace is put in the ASGI scope as ``aion.namespace`` (and the key's id as
``aion.key_id``), for the access log. Refusals are rendered by :mod:`aion.server.errors`, in
the shape of the request's family, with the status its table gives.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import replace
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from aion.errors import AionError, BackendUnavailable, Forbidden, Unauthorized
from aion.server.config import AionConfig
from aion.server.errors import error_response, status_of
from aion.server.families import Family
from aion.server.ops.auth_rules import (
    Grant,
    RepeatedField,
    Requirement,
    authorize,
    credential_of,
    is_documentation,
    key_namespace,
    requirement_of,
    single_valued,
)
from aion.server.ops.auth_rules import Scope as AuthScope
from aion.server.ops.keys_cluster import (
    LOCAL_REFRESH_SECONDS,
    SHARED_REFRESH_SECONDS,
    open_key_store,
    shared_store_backend,
)
from aion.server.ops.keys_ring import KeyRing

__all__ = [
    "KEY_ID_SCOPE",
    "NAMESPACE_SCOPE",
    "REFUSAL_SCOPE",
    "REQUEST_SCOPE",
    "AuthMiddleware",
    "authorize_namespace",
    "install_auth",
    "key_grant",
    "request_family",
    "request_namespace",
    "request_target",
    "scope_value",
]

NAMESPACE_SCOPE = "aion.namespace"
KEY_ID_SCOPE = "aion.key_id"
REFUSAL_SCOPE = "aion.refused"
"""Where a refusal (``bad_request``, ``unauthorized`` or ``forbidden``) is noted in the
scope, for metrics."""
REQUEST_SCOPE = "aion.request"
"""Where the parsed :class:`Requirement` of a request is kept for its handler."""
GRANT_SCOPE = "aion.grant"
"""The key's :class:`Grant`, for handlers whose answer depends on it (a body's namespace,
the dashboard's list of namespaces)."""
_REFUSALS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 503: "keys_unavailable"}


class AuthMiddleware:
    """Require an API key with the right scope and namespace once any key exists.

    Every request (keys or not) is parsed once into a :class:`Requirement`, kept in the scope
    as ``aion.request``: the key check decides on it, and the handlers act on the same values
    (:func:`request_target`), so the check and the action cannot read different copies of a
    header or parameter. A request repeating a security-relevant header or query parameter is
    refused with 400.
    """

    def __init__(self, app: ASGIApp, keyring: KeyRing, default_namespace: str) -> None:
        self.app = app
        self.keyring = keyring
        self.default_namespace = default_namespace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        try:
            headers, query = single_valued(scope["headers"], scope.get("query_string", b""))
        except RepeatedField as exc:
            await _refuse(scope, receive, send, request_family(scope), exc)
            return
        need = requirement_of(method, scope["path"], query, headers, self.default_namespace)
        scope[REQUEST_SCOPE] = need
        scope[NAMESPACE_SCOPE] = need.namespace
        needed = need.scope
        if needed is None:
            await self.app(scope, receive, send)
            return
        await self.keyring.refresh()
        if not self.keyring.ready:
            await _refuse(scope, receive, send, need.family, _keys_unavailable(self.keyring))
            return
        if not self.keyring.enabled:
            await self.app(scope, receive, send)
            return
        try:
            grant = self.keyring.authenticate(credential_of(need.family, headers, query))
            scope[KEY_ID_SCOPE] = grant.key_id
            scope[GRANT_SCOPE] = grant
            if need.namespace_from_key and need.namespace is not None:
                need = replace(need, namespace=key_namespace(grant, need.namespace))
                scope[REQUEST_SCOPE] = need
                scope[NAMESPACE_SCOPE] = need.namespace
            if need.namespace_in_body:
                # The handler decodes the body and authorizes its namespace with this grant
                # (authorize_namespace): the body is read once, by the code that acts on it.
                authorize(grant, needed, None)
            else:
                authorize(grant, needed, need.namespace)
        except (Unauthorized, Forbidden) as exc:
            await _refuse(scope, receive, send, need.family, exc)
            return
        await self.app(scope, receive, send)


def _keys_unavailable(keyring: KeyRing) -> BackendUnavailable:
    return BackendUnavailable(
        "API keys", f"the keys in {keyring.where} cannot be read yet; retry shortly"
    )


def request_target(scope: Mapping[str, Any]) -> Requirement:
    """The request as the key check parsed it: family, scope, namespace and (Kinesis)
    operation. Handlers act on these values, never on a second reading of the request."""
    need = scope.get(REQUEST_SCOPE)
    if not isinstance(need, Requirement):
        raise RuntimeError("the request did not pass through AuthMiddleware")
    return need


def request_namespace(request: Request) -> str:
    """The namespace the key check decided on for ``request`` (the query's, the path's or
    the default), checked against the server's naming rule and allow-list: what every
    namespace-scoped handler acts on."""
    config: AionConfig = request.app.state.config
    return config.served_namespace(request_target(request.scope).namespace)


def request_family(scope: Mapping[str, Any]) -> Family:
    """The wire family of a request, for answering its errors in the family's shape: as the
    key check parsed it, or (for a request that did not pass the check) from its path."""
    need = scope.get(REQUEST_SCOPE)
    if isinstance(need, Requirement):
        return need.family
    method, path = scope.get("method", "GET"), scope.get("path", "/")
    return requirement_of(method, path, {}, {}, "").family


def authorize_namespace(scope: MutableMapping[str, Any], namespace: str) -> None:
    """For a namespace that only the body names (Kronos): raise ``Forbidden`` unless the
    request's key holds it. Called by the handler with the namespace it will act on."""
    scope[NAMESPACE_SCOPE] = namespace
    need = request_target(scope)
    grant = key_grant(scope)
    if grant is not None and need.namespace_in_body:
        authorize(grant, need.scope or AuthScope.READ, namespace)


def key_grant(scope: Mapping[str, Any]) -> Grant | None:
    """What the request's API key allows, or None while no key is in force."""
    grant = scope.get(GRANT_SCOPE)
    return grant if isinstance(grant, Grant) else None


async def _refuse(
    scope: Scope, receive: Receive, send: Send, family: Family, exc: AionError
) -> None:
    status = status_of(exc)
    scope[REFUSAL_SCOPE] = _REFUSALS[status]
    if scope["type"] == "websocket":
        # Closing before accepting makes the server answer the handshake with 403.
        await send({"type": "websocket.close", "code": 1008, "reason": str(exc)[:120]})
        return
    response = error_response(family, exc)
    if status == 401:
        response.headers["www-authenticate"] = _challenge(family, scope.get("path", "/"))
    await response(scope, receive, send)


def _challenge(family: Family, path: str) -> str:
    # A browser on the dashboard or the API docs gets a login prompt (the key as the password).
    if family is Family.DASHBOARD or is_documentation(path):
        return 'Basic realm="aion", charset="UTF-8"'
    return 'Bearer realm="aion"'


def scope_value(scope: Mapping[str, Any], name: str) -> str | None:
    """A value this middleware put in the scope (``NAMESPACE_SCOPE``, ``KEY_ID_SCOPE``)."""
    value = scope.get(name)
    return value if isinstance(value, str) else None


def install_auth(app: FastAPI, config: AionConfig) -> KeyRing:
    """Add the key check to ``app`` as its innermost middleware, wherever this is called: the
    body limit applies first, refusals still get CORS headers, and the access log and metrics
    see them."""
    shared = shared_store_backend(config) is not None
    keyring = KeyRing(
        open_key_store(config),
        min_interval=SHARED_REFRESH_SECONDS if shared else LOCAL_REFRESH_SECONDS,
        shared=shared,
        required=shared and not config.open_access,
    )
    app.state.keyring = keyring
    # add_middleware puts a middleware outside the others; appending puts it inside them.
    app.user_middleware.append(
        Middleware(AuthMiddleware, keyring=keyring, default_namespace=config.default_namespace)
    )
    return keyring
