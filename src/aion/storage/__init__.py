"""Event storage: the EventStore contract, its backends and the URL registry."""

from aion.storage.protocol import EventStore
from aion.storage.registry import open_event_store

__all__ = ["EventStore", "open_event_store"]
