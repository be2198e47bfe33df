"""The ingestion wire families: batches of events written through the event sink.

- :mod:`.native_api`: ``POST /v1/ingest/[{namespace}/]{stream}`` (Kronos envelope);
- :mod:`.initialstate_api`: the Initial State events API (``/api/buckets``, ``/api/events``);
- :mod:`.samsara_api`: the Samsara ingestion API (``/v1/events``, ``/v1/api-status``);
- :mod:`.sink`: the :class:`~.sink.EventSink` contract the routers write to, and the body
  reading (size cap, gzip) they share;
- :mod:`.dedupe`: the per-process memory of recent ``X-Aion-Batch-Id``\\ s;
- :mod:`.openapi`: their OpenAPI description.

Each router answers its errors in its own family's shape through :mod:`aion.server.errors`.
"""
