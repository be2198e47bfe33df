"""Aion: one Python event pipeline.

An HTTP event store with time-ordered ids, timeseries rollups, buffered shippers and sharded
streams, served by one process (``aion serve``) and used through ``aion.Client`` and
``aion.AsyncClient``.
"""

from aion.client import AsyncClient, Client, Order
from aion.errors import AionError
from aion.timeseries import Timeseries
from aion.version import __version__

__all__ = ["AionError", "AsyncClient", "Client", "Order", "Timeseries", "__version__"]
