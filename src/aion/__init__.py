"""Aion: one Python event pipeline.

An HTTP event store with time-ordered ids, timeseries rollups, buffered shippers and sharded
streams, served by one process (``aion serve``). Everything a program needs is here::

    Client, AsyncClient                  the event API (put, get, delete, streams, schemas)
    StreamsClient, AsyncStreamsClient    the sharded streams API (Kinesis-like)
    ConsumerGroupWorker                  share a stream's shards with other processes
    TimeseriesClient, AsyncTimeseriesClient
                                         the rollups a server keeps (``/v1/timeseries``)
    Shipper, AsyncShipper, ShipperConfig buffered, retried, spooled event shipping
    HttpSettings                         url, namespace, timeout, api_key, retries
    Timeseries                           Kairos-style rollups over memory, Redis or SQL
    Order, TimeLike                      ``get``'s order, and the times the clients take
    AionError and its tree               see :mod:`aion.errors`

Every client takes ``api_key=``. ``import aion`` loads only the errors and the version: each
client is imported on first use (PEP 562), so nothing starts or registers exit hooks until
then.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from aion.errors import (
    AionError,
    BackendUnavailable,
    ConfigurationError,
    Forbidden,
    InvalidEventTime,
    InvalidJson,
    InvalidRecord,
    InvalidStreamName,
    InvalidTimeValue,
    JsonTooDeep,
    NamespaceNotAllowed,
    NotFound,
    RequestError,
    ResponseError,
    SequencePastEnd,
    SequenceTrimmed,
    ShardNotFound,
    StoreError,
    StreamNotFound,
    Unauthorized,
    UnknownInterval,
    ValidationError,
)
from aion.version import __version__

if TYPE_CHECKING:
    from aion.client.aio import AsyncClient
    from aion.client.consumer import ConsumerGroupWorker
    from aion.client.events_calls import Order
    from aion.client.http import HttpSettings
    from aion.client.shipper.aio import AsyncShipper
    from aion.client.shipper.config import ShipperConfig
    from aion.client.shipper.sync import Shipper
    from aion.client.streams_async import AsyncStreamsClient
    from aion.client.streams_sync import StreamsClient
    from aion.client.sync import Client
    from aion.client.timeseries_async import AsyncTimeseriesClient
    from aion.client.timeseries_sync import TimeseriesClient
    from aion.core.time import TimeLike
    from aion.timeseries.timeseries import Timeseries

__all__ = [
    "AionError",
    "AsyncClient",
    "AsyncShipper",
    "AsyncStreamsClient",
    "AsyncTimeseriesClient",
    "BackendUnavailable",
    "Client",
    "ConfigurationError",
    "ConsumerGroupWorker",
    "Forbidden",
    "HttpSettings",
    "InvalidEventTime",
    "InvalidJson",
    "InvalidRecord",
    "InvalidStreamName",
    "InvalidTimeValue",
    "JsonTooDeep",
    "NamespaceNotAllowed",
    "NotFound",
    "Order",
    "RequestError",
    "ResponseError",
    "SequencePastEnd",
    "SequenceTrimmed",
    "ShardNotFound",
    "Shipper",
    "ShipperConfig",
    "StoreError",
    "StreamNotFound",
    "StreamsClient",
    "TimeLike",
    "Timeseries",
    "TimeseriesClient",
    "Unauthorized",
    "UnknownInterval",
    "ValidationError",
    "__version__",
]

_LAZY = {
    "AsyncClient": "aion.client.aio",
    "AsyncShipper": "aion.client.shipper.aio",
    "AsyncStreamsClient": "aion.client.streams_async",
    "AsyncTimeseriesClient": "aion.client.timeseries_async",
    "Client": "aion.client.sync",
    "ConsumerGroupWorker": "aion.client.consumer",
    "HttpSettings": "aion.client.http",
    "Order": "aion.client.events_calls",
    "Shipper": "aion.client.shipper.sync",
    "ShipperConfig": "aion.client.shipper.config",
    "StreamsClient": "aion.client.streams_sync",
    "TimeLike": "aion.core.time",
    "Timeseries": "aion.timeseries.timeseries",
    "TimeseriesClient": "aion.client.timeseries_sync",
}
"""Where each name that is loaded on first use lives."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aion' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # the next lookup is a plain global
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
