"""Event storage: the EventStore contract (``protocol``), its backends and the URL registry.

Backends: ``memory`` (the reference), ``sqlite`` (embedded, one writer thread) and
``postgres``; ``registry`` opens one from a URL. The SQL StreamLogs (``sqlite_streams``,
``postgres_streams``) live here too, beside the tables they share with the events.

The seam: async, over ``aion.core`` only; every driver error is mapped to
:mod:`aion.errors` here, at the backend boundary. The server's routing writes to these
stores; nothing in ``aion.client`` imports them.
"""

from aion.storage.protocol import EventStore
from aion.storage.registry import open_event_store

__all__ = ["EventStore", "open_event_store"]
