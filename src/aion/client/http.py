"""The HTTP seam every client shares, without I/O: settings, requests, answers and errors.

:class:`HttpSettings` says where the server is and how to talk to it (url, namespace, timeout,
api_key, retries). Each API builds its requests as :class:`Call` values, with no I/O
(:mod:`~aion.client.events_calls`, :mod:`~aion.client.streams_calls`,
:mod:`~aion.client.timeseries_calls`); :func:`answer` turns a response into a value or an
exception, and :func:`decode_error` is the one reader of the server's error bodies, whatever
their shape. :mod:`~aion.client.transport` sends the calls, blocking or with asyncio.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec

from aion.errors import AionError, ConfigurationError, ResponseError

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "NAMESPACE_ENV",
    "URL_ENV",
    "Call",
    "HttpSettings",
    "LineSplitter",
    "answer",
    "auth_headers",
    "decode_error",
    "decode_json",
    "decode_lines",
    "native_error",
]

DEFAULT_URL = "http://127.0.0.1:8151"
"""Where ``aion serve`` listens by default."""
DEFAULT_TIMEOUT = 30.0
"""Seconds a request may take (connect, each read, each write) before it fails."""
DEFAULT_RETRIES = 10
"""How many times ``get`` resumes after a dropped connection before it gives up."""
URL_ENV = "AION_URL"
NAMESPACE_ENV = "AION_NAMESPACE"
API_KEY_ENV = "AION_API_KEY"
"""The environment variables the CLI and the compat layers read (the clients never do)."""

T = TypeVar("T")
_decode = msgspec.json.Decoder().decode
_SHOWN = 200
"""At most this many characters of an error body that is not JSON go into the message."""


def auth_headers(api_key: str | None) -> dict[str, str]:
    """The header that carries ``api_key`` (none without a key)."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """How a client talks to one server.

    ``namespace`` is the default of every call that takes one (None: the server's default);
    ``timeout`` is in seconds (None: wait forever); ``api_key`` is sent as a bearer token when
    set (a server with keys answers 401 without it); ``retries`` is how many times a read that
    is safe to repeat (``get``) resumes after a dropped connection.
    """

    url: str = DEFAULT_URL
    namespace: str | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    api_key: str | None = field(default=None, repr=False)
    retries: int = DEFAULT_RETRIES

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ConfigurationError(f"retries must not be negative, not {self.retries}")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigurationError(f"timeout must be positive (or None), not {self.timeout}")

    def headers(self) -> dict[str, str]:
        """Headers every request carries."""
        return {"Accept": "application/json", **auth_headers(self.api_key)}

    def endpoint(self, path: str) -> str:
        """The absolute URL of ``path`` (which starts with ``/``)."""
        return self.url.rstrip("/") + path


def decode_json(content: bytes) -> Any:
    """A JSON body (None when empty)."""
    return _decode(content) if content else None


def _lines(content: bytes) -> list[bytes]:
    splitter = LineSplitter()
    return splitter.feed(content) + splitter.finish()


def decode_lines(content: bytes) -> list[str]:
    """A body of ``\\r\\n``-separated lines, as text."""
    return [line.decode() for line in _lines(content)]


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request and how to read its answer.

    ``path`` starts at the server's root; ``body`` is sent as JSON; ``timeout`` overrides the
    settings' (a long-poll must outlast its wait); ``decode`` reads the body's bytes and
    ``parse`` the decoded value. ``conflict`` is the value of a 409, when a 409 is an answer
    rather than an error; ``require_success`` makes ``@success: false`` an error; ``errors``
    turns the decoded :class:`ResponseError` into the API's own exception.
    """

    method: str
    path: str
    parse: Callable[[Any], T]
    body: Any = None
    params: Mapping[str, str] | None = None
    timeout: float | None = None
    conflict: Callable[[], T] | None = None
    decode: Callable[[bytes], Any] = decode_json
    require_success: bool = True
    errors: Callable[[ResponseError], AionError] | None = None


def answer(call: Call[T], status: int, content: bytes) -> T:
    """The value of ``call``'s answer, or the exception it stands for."""
    if status == 409 and call.conflict is not None:
        return call.conflict()
    if status >= 400:
        error = decode_error(status, content)
        raise call.errors(error) if call.errors is not None else error
    try:
        value = call.decode(content)
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise _unexpected(status, content) from None
    if call.require_success and isinstance(value, dict) and value.get("@success") is False:
        raise decode_error(status, content)
    try:
        return call.parse(value)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        raise _unexpected(status, content) from None


def _unexpected(status: int, content: bytes) -> ResponseError:
    text = content.decode("utf-8", "replace")
    return ResponseError(f"unexpected answer [HTTP {status}]: {text[:_SHOWN]}", status, text)


def decode_error(status: int, content: bytes) -> ResponseError:
    """The :class:`ResponseError` of an error answer, from any of the server's error shapes:
    Kronos's ``{"@errors": [...]}``, Aion's ``{"error": {"type", "message", "field"}}``,
    Kinesis's ``{"__type", "message"}``, Initial State's ``{"message": {"error": ...}}`` and
    a plain ``{"message"}``. The message is the server's, then the field it blamed, then the
    status: ``interval 'x' is not one of minute (interval) [HTTP 400]``."""
    try:
        body: Any = _decode(content) if content else None
    except msgspec.DecodeError:
        body = content.decode("utf-8", "replace")
    message, blamed = _read_error(body)
    if message is None:
        shown = body if isinstance(body, str) else content.decode("utf-8", "replace")
        return ResponseError(f"HTTP {status}: {shown[:_SHOWN]}", status, body)
    where = f" ({blamed})" if blamed else ""
    return ResponseError(f"{message}{where} [HTTP {status}]", status, body, blamed)


def _read_error(body: Any) -> tuple[str | None, str | None]:
    """The message and the blamed field of an error body (None, None: not a known shape)."""
    if not isinstance(body, dict):
        return None, None
    errors = body.get("@errors") or body.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors), None
    error = native_error(body)
    if error is not None:
        return error[1], error[2]
    message = body.get("message")
    if isinstance(message, dict):
        nested = native_error(message)
        return (nested[1], nested[2]) if nested is not None else (None, None)
    if isinstance(message, str) and message:
        kind = body.get("__type")
        return (f"{kind}: {message}" if isinstance(kind, str) else message), None
    return None, None


def native_error(body: Any) -> tuple[str, str, str | None] | None:
    """``(type, message, field)`` of Aion's ``{"error": {"type", "message", "field"}}``."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return None
    field_name = error.get("field")
    return (
        str(error.get("type") or ""),
        error["message"],
        field_name if isinstance(field_name, str) else None,
    )


class LineSplitter:
    """Splits a streamed body into ``\\r\\n``-terminated lines across chunk boundaries."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._pending + chunk
        lines = data.split(b"\r\n")
        self._pending = lines.pop()
        return [line for line in lines if line]

    def finish(self) -> list[bytes]:
        rest, self._pending = self._pending, b""
        return [rest] if rest.strip() else []
