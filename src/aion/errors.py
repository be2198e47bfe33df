"""Aion's exceptions: one root, every driver error mapped at the backend boundary.

Every exception the package raises on purpose is defined here and derives from
:class:`AionError`. The modules that raised them first still export them under the same names
(``aion.streams.protocol.StreamNotFound``, ``aion.compat.triton.KinesisError``...), so either
import works. The tree::

    AionError
    ├── ConfigurationError              a bad setting, a missing driver (names the pip extra)
    │   ├── InvalidConfiguration        compat.samsara: a configuration the client refuses
    │   ├── UnsupportedBackend          a Kairos backend Aion does not store to (MongoDB, Cassandra)
    │   └── InvalidConfigurationError   compat.triton: a bad Triton YAML (also a TritonError)
    ├── ValidationError                 bad input; ``field`` names the offending field
    │   ├── InvalidStreamName
    │   ├── InvalidEventTime
    │   ├── InvalidTimeValue            a time that no converter understands
    │   ├── NamespaceNotAllowed         the config lists namespaces and this one is not among them
    │   ├── InvalidJson                 a body that is not JSON
    │   ├── JsonTooDeep                 a body that nests deeper than allowed
    │   ├── SequenceTrimmed             a stream position already removed by retention
    │   ├── SequencePastEnd             a stream position past the shard's last sequence number
    │   ├── InvalidRecord               an import line or row that cannot be imported
    │   ├── UnsupportedType             compat.kairos: an unknown type (also NotImplementedError)
    │   ├── InvalidEvent                compat.samsara: an event the SDK would refuse
    │   └── InvalidArguement            compat.samsara: a bad argument (the SDK's spelling)
    ├── NotFound                        an unknown stream, shard, timeseries, interval or key
    │   ├── StreamNotFound
    │   │   └── StaleStream
    │   ├── ShardNotFound
    │   └── UnknownInterval             a read named an interval the timeseries does not have
    ├── Unauthorized                    no API key, or one the server does not know (HTTP 401)
    ├── Forbidden                       the serving mode or a key's scope blocks the operation
    ├── BackendUnavailable              a backend is down or timed out; ``backend`` names it
    ├── StoreError                      a timeseries backend refused an operation
    ├── RequestError                    the client could not reach the server (after its retries)
    │   └── ShippingFailed              compat.isstreamer: events not delivered (debug_level >= 2)
    ├── ResponseError                   the server answered with an error; ``status``, ``body``
    │                                   and ``field`` (the field at fault, when the server says)
    ├── KronosClientError               compat.pykronos: a failed request of ``KronosClient``
    └── TritonError                     compat.triton: the root of Triton's errors
        ├── InvalidConfigurationError   (see ConfigurationError)
        ├── StreamNotConfiguredError    an alias the Triton config does not define
        ├── KinesisError                a put failed even after its retries
        │   └── KinesisPutManyError     ``failed_data`` holds the records not stored
        ├── EndOfShardError             a closed shard read to its end (Aion shards never close)
        ├── ShardNotFoundError          a shard number outside the stream's shard list
        └── TritonCheckpointError       checkpointing without a client name

A client's errors: an unreachable server is a ``RequestError``; an error answer is a
``ResponseError`` (a 401 when the server wants an API key and none, or a wrong one, was sent),
except that the streams client raises the typed errors the server names (``StreamNotFound``,
``SequenceTrimmed``...), ``NotFound`` for another 404 and ``ValidationError`` for a 400.

Nothing here shadows a builtin: there is no ``ConnectionError`` or ``TimeoutError`` of ours.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AionError",
    "BackendUnavailable",
    "ConfigurationError",
    "EndOfShardError",
    "Forbidden",
    "InvalidArguement",
    "InvalidConfiguration",
    "InvalidConfigurationError",
    "InvalidEvent",
    "InvalidEventTime",
    "InvalidJson",
    "InvalidRecord",
    "InvalidStreamName",
    "InvalidTimeValue",
    "JsonTooDeep",
    "KinesisError",
    "KinesisPutManyError",
    "KronosClientError",
    "NamespaceNotAllowed",
    "NotFound",
    "RequestError",
    "ResponseError",
    "SequencePastEnd",
    "SequenceTrimmed",
    "ShardNotFound",
    "ShardNotFoundError",
    "ShippingFailed",
    "StaleStream",
    "StoreError",
    "StreamNotConfiguredError",
    "StreamNotFound",
    "TritonCheckpointError",
    "TritonError",
    "Unauthorized",
    "UnknownInterval",
    "UnsupportedBackend",
    "UnsupportedType",
    "ValidationError",
]


class AionError(Exception):
    """The root of every error Aion raises on purpose."""


# -- configuration ---------------------------------------------------------------------------


class ConfigurationError(AionError):
    """A setting is wrong, or an optional driver is not installed."""


class UnsupportedBackend(ConfigurationError):
    """A Kairos timeseries backend Aion does not store to (MongoDB, Cassandra); the message
    says what to use instead and how to bring existing data over. ``database`` names it."""

    def __init__(self, database: str) -> None:
        super().__init__(
            f"Aion does not support {database} as a timeseries backend. Use PostgreSQL "
            "('postgresql://user@host/db'), MariaDB or MySQL ('mysql://user@host/db'), "
            "SQLite ('sqlite:///rollups.db') or Redis ('redis://host:6379/0'). To bring "
            "existing data over, replay its source events into a stream (aion import) under "
            "a [[rollups]] rule, or copy each bucket with Timeseries.bulk_insert: see "
            "'Coming from MongoDB or Cassandra' in docs/timeseries.md"
        )
        self.database = database


class InvalidConfiguration(ConfigurationError):
    """``aion.compat.samsara``: a configuration the client refuses (no ``url``, a bad
    compression, a negative time)."""


# -- bad input -------------------------------------------------------------------------------


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


class InvalidJson(ValidationError):
    """A body that is not JSON (or holds a number no decoder can represent)."""


class JsonTooDeep(ValidationError):
    """A body that nests arrays and objects deeper than allowed."""


class SequenceTrimmed(ValidationError):
    """A position points at records already removed by retention; ``field`` is ``position``."""


class SequencePastEnd(ValidationError):
    """A position points beyond the last sequence number the shard has handed out."""


class InvalidRecord(ValidationError):
    """A line (JSON lines) or row (Parquet) that cannot be imported; ``number`` says which."""

    def __init__(self, message: str, unit: str, number: int) -> None:
        super().__init__(f"{unit} {number}: {message}", "event")
        self.detail = message
        self.unit = unit
        self.number = number


class UnsupportedType(ValidationError, NotImplementedError):
    """``aion.compat.kairos``: an unknown timeseries ``type`` (Kairos raised
    ``NotImplementedError``)."""


class InvalidEvent(ValidationError):
    """``aion.compat.samsara``: an event without a string ``sourceId``/``eventName`` or an
    integer ``timestamp`` ≥ 0."""


class InvalidArguement(ValidationError):
    """``aion.compat.samsara``: a function called with unsuitable arguments (the SDK's
    spelling)."""


# -- lookups, keys, backends -----------------------------------------------------------------


class NotFound(AionError, LookupError):
    """An unknown stream, shard, timeseries, interval or key."""


class StreamNotFound(NotFound):
    """No stream of that name in that namespace."""


class StaleStream(StreamNotFound):
    """What a backend cached of a stream no longer holds: another server deleted the stream
    (and may have made it again, as a new *incarnation*, perhaps with another shard count).
    Raised by the storage call that found out, atomically with the write or read it refused;
    the caller forgets its cache and looks the stream up again (:func:`fresh_retry`). One
    that no caller retries is what it also is: the stream the call meant is not found."""

    def __init__(self, message: str = "the stream was deleted since this server looked it up"):
        super().__init__(message)


class ShardNotFound(NotFound):
    """The stream has no shard of that number."""


class UnknownInterval(NotFound):
    """A read named an interval that the timeseries does not configure."""


class Unauthorized(AionError):
    """No API key was sent, or the key is unknown or revoked."""


class Forbidden(AionError):
    """The serving mode or a key's scope does not allow this operation."""


class BackendUnavailable(AionError):
    """A storage backend is down or did not answer in time."""

    def __init__(self, backend: str, message: str) -> None:
        super().__init__(f"backend {backend!r} is unavailable: {message}")
        self.backend = backend


class StoreError(AionError):
    """A timeseries backend refused an operation for a reason other than being unreachable."""


# -- the clients -----------------------------------------------------------------------------


class RequestError(AionError):
    """The client could not reach the server, even after retrying."""


class ShippingFailed(RequestError):
    """``aion.compat.isstreamer``: raised at ``debug_level >= 2`` when events could not be
    delivered."""


class ResponseError(AionError):
    """The server answered with an error status or ``@success: false``: ``status`` is the HTTP
    status, ``body`` the decoded answer and ``field`` the request field the server blamed."""

    def __init__(
        self, message: str, status: int, body: Any = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.field = field


class KronosClientError(AionError):
    """``aion.compat.pykronos``: a request failed, or the server answered with an error or
    ``@success: false``."""


class TritonError(AionError):
    """``aion.compat.triton``: the root of Triton's errors."""


class InvalidConfigurationError(TritonError, ConfigurationError):
    """The Triton YAML cannot be read or an entry lacks ``name`` or ``partition_key``."""


class StreamNotConfiguredError(TritonError):
    """``get_stream`` was asked for an alias the config does not define."""


class KinesisError(TritonError):
    """A put failed even after its retries."""


class KinesisPutManyError(KinesisError):
    """Some records of ``put_many`` could not be stored; they are in ``failed_data``."""

    def __init__(self, failed_data: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(failed_data)} records could not be put")
        self.failed_data = failed_data


class EndOfShardError(TritonError):
    """The shard is closed and fully read (Aion shards never close; kept for Triton code)."""


class ShardNotFoundError(TritonError):
    """A shard number outside the stream's shard list."""


class TritonCheckpointError(TritonError):
    """Checkpointing needs a client name (the consumer group)."""
