"""Sharded streams (Kinesis-like): the StreamLog backends and the consumer groups over them.

The contract, :class:`~aion.streams.protocol.StreamLog`, lives in :mod:`aion.core.streamlog`
(so ``aion.storage`` can implement it too) and is re-exported by ``protocol``. Here are
``memory`` (the reference), ``redis`` (Redis Streams) and ``nats`` (JetStream, with
``nats_pull``), chosen by URL in ``registry``; the SQL ones are in ``aion.storage``.
On top of any of them: ``reader`` reads several shards as one iterator, ``assignment``
decides (without I/O) which shards a consumer-group worker takes, ``membership`` is one
heartbeat of a worker and ``consumer`` runs in-process workers.

The seam: async only, no HTTP. The server serves these streams at ``/v1/streams`` and the
Kinesis API; :mod:`aion.client.streams` is the client of that API.
"""
