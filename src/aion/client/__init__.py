"""Aion's clients, one pattern for every API.

Each API's requests are built without I/O (``events_calls``, ``streams_calls``,
``timeseries_calls``) over one :class:`HttpSettings` (url, namespace, timeout, api_key,
retries) and read back by one error decoder (``http``); thin twins send them through
``transport``, blocking or with asyncio:

* events (``/1.0``): :class:`Client`, :class:`AsyncClient`;
* sharded streams (``/v1/streams``): ``aion.client.streams`` (``StreamsClient``,
  ``AsyncStreamsClient``, ``ConsumerGroupWorker``);
* rollups (``/v1/timeseries``): :class:`TimeseriesClient`, :class:`AsyncTimeseriesClient`;
* buffered shipping (``/v1/ingest``): ``aion.client.shipper``; export and import:
  ``aion.client.transfer``.

Every client takes ``api_key=``, sent as ``Authorization: Bearer <key>``. Nothing here reads
the environment; the CLI and the compat layers do (``$AION_URL``, ``$AION_API_KEY``).
"""

from aion.client.aio import AsyncClient
from aion.client.events_calls import Order
from aion.client.http import DEFAULT_URL, HttpSettings
from aion.client.sync import Client
from aion.client.timeseries_async import AsyncTimeseriesClient
from aion.client.timeseries_sync import TimeseriesClient
from aion.client.timeseries_types import Datapoint, RollupInfo, TimeseriesPoints
from aion.core.time import TimeLike

__all__ = [
    "DEFAULT_URL",
    "AsyncClient",
    "AsyncTimeseriesClient",
    "Client",
    "Datapoint",
    "HttpSettings",
    "Order",
    "RollupInfo",
    "TimeLike",
    "TimeseriesClient",
    "TimeseriesPoints",
]
