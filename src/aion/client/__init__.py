"""Aion's clients: ``Client`` (blocking), ``AsyncClient`` (asyncio) and the buffered shipper."""

from aion.client.aio import AsyncClient
from aion.client.base import DEFAULT_URL, Order
from aion.client.sync import Client

__all__ = ["DEFAULT_URL", "AsyncClient", "Client", "Order"]
