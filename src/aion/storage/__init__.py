"""Event storage: the EventStore contract (``protocol``), its backends and the URL registry.

``backends`` holds ``memory`` (the reference), ``sqlite`` (embedded, one writer thread) and
``postgres``; ``registry`` opens one from a URL. What the backends share sits beside them:
the SQL tables (``schema``), batch ids (``batches``), key-set paging (``paging``), shard
placement (``placement``) and outage handling (``outages``).

The seam: async, over ``aion.core`` only; every driver error is mapped to
:mod:`aion.errors` here, at the backend boundary. The server's routing writes to these
stores, and the SQL stream logs of :mod:`aion.streams` are views over the same tables;
nothing in ``aion.client`` imports them.
"""

from aion.storage.protocol import EventStore
from aion.storage.registry import open_event_store

__all__ = ["EventStore", "open_event_store"]
