"""Sharded streams (Kinesis-like): the StreamLog contract, its backends and consumer groups.

``protocol`` is the contract (:class:`~aion.streams.protocol.StreamLog` and its value types),
``rules`` what every backend decides the same way, and ``registry`` opens a backend from a URL
(``open_stream_log``). ``backends`` holds ``memory`` (the reference), ``redis`` (Redis Streams),
``nats`` (JetStream, with ``nats_pull``), and ``sqlite`` and ``postgres`` (with
``sql_common``), which are views over the event tables of :mod:`aion.storage`. On top of any
of them: ``reader`` reads several shards as one iterator, and ``groups`` runs consumer groups
(``assignment`` decides without I/O which shards a worker takes, ``membership`` is one
heartbeat of a worker and ``consumer`` runs in-process workers).

The seam: async only, no HTTP; this package may import ``aion.storage``, never the reverse.
The server serves these streams at ``/v1/streams`` and the Kinesis API;
:mod:`aion.client.streams` is the client of that API.
"""
