"""Aion's exceptions: one root, every driver error mapped at the backend boundary.

The tree::

    AionError
    ├── ConfigurationError          a bad setting, a missing optional driver (names the pip extra)
    ├── ValidationError             bad input; ``field`` names the offending field
    │   ├── InvalidStreamName
    │   ├── InvalidEventTime
    │   └── InvalidTimeValue        a time that no converter understands
    ├── NamespaceNotAllowed         the config lists namespaces and this one is not among them
    ├── NotFound                    an unknown stream, shard, timeseries or interval
    ├── Unauthorized                no API key, or one the server does not know (HTTP 401)
    ├── Forbidden                   the serving mode or a key's scope blocks the operation
    ├── BackendUnavailable          a backend is down or timed out; ``backend`` names it
    ├── RequestError                the client could not reach the server (after its retries)
    └── ResponseError               the server answered with an error; ``status`` and ``body``

Nothing here shadows a builtin: there is no ``ConnectionError`` or ``TimeoutError`` of ours.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AionError",
    "BackendUnavailable",
    "ConfigurationError",
    "Forbidden",
    "InvalidEventTime",
    "InvalidStreamName",
    "InvalidTimeValue",
    "NamespaceNotAllowed",
    "NotFound",
    "RequestError",
    "ResponseError",
    "Unauthorized",
    "ValidationError",
]


class AionError(Exception):
    """The root of every error Aion raises on purpose."""


class ConfigurationError(AionError):
    """A setting is wrong, or an optional driver is not installed."""


class ValidationError(AionError, ValueError):
    """Input that Aion refuses; ``field`` names the field at fault, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidStreamName(ValidationError):
    """A stream name that breaks the rule ``^[\\w\\-\\.]+$``, at most 2048 characters."""


class InvalidEventTime(ValidationError):
    """An ``@time`` that is not an integer count of 100 ns ticks."""


class InvalidTimeValue(ValidationError):
    """A time in a form that no converter understands."""


class NamespaceNotAllowed(ValidationError):
    """The configuration lists its namespaces and this one is not among them."""


class NotFound(AionError, LookupError):
    """An unknown stream, shard, timeseries, interval or key."""


class Unauthorized(AionError):
    """No API key was sent, or the key is unknown or revoked."""


class Forbidden(AionError):
    """The serving mode or a key's scope does not allow this operation."""


class BackendUnavailable(AionError):
    """A storage backend is down or did not answer in time."""

    def __init__(self, backend: str, message: str) -> None:
        super().__init__(f"backend {backend!r} is unavailable: {message}")
        self.backend = backend


class RequestError(AionError):
    """The client could not reach the server, even after retrying."""


class ResponseError(AionError):
    """The server answered with an error status or ``@success: false``."""

    def __init__(self, message: str, status: int, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
