"""The Kronos wire family: ``/1.0/index``, ``/1.0/events/put|get|delete``, ``/1.0/streams``
and ``/1.0/streams/infer_schema``, with Kronos's envelopes, streamed lines and serving modes.

:mod:`.api` holds the routes over the shared :class:`~aion.server.service.EventService`;
:mod:`.openapi` describes them. Errors go out through
:func:`aion.server.errors.kronos_error`.
"""
