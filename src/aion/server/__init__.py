"""The Aion server: one ASGI app serving every wire API, one package per wire family.

- :mod:`~aion.server.kronos`: the Kronos event API (``/1.0/...``);
- :mod:`~aion.server.ingest`: batch ingestion, native (``/v1/ingest``), Initial State
  (``/api``) and Samsara (``/v1/events``), with the sink contract and batch-id deduplication;
- :mod:`~aion.server.streams`: sharded streams, native (``/v1/streams``) and
  Kinesis-compatible (``POST /``), their iterators and retention;
- :mod:`~aion.server.rollups`: the ``[[rollups]]`` rules, their worker and ``/v1/timeseries``;
- :mod:`~aion.server.dashboard`: the page at ``/ui`` and its reads under ``/ui/api``;
- :mod:`~aion.server.ops`: API keys, probes, metrics, logging and the wire limits.

The modules at this level are shared: the configuration, the event service and its routing,
the Kronos envelope, the OpenAPI building blocks, the list of wire families
(:mod:`~aion.server.families`), and :mod:`~aion.server.errors`, the one table from exception
to status and the renderer of each family's error shape. The families
never import each other (an import-linter contract says so); :mod:`~aion.server.app`
assembles them into the app and :mod:`~aion.server.openapi` into its document.
"""
