"""The StreamLog backends: ``memory``, ``redis``, ``nats`` (with ``nats_pull``), and ``sqlite``
and ``postgres`` over the event tables (with what they share in ``sql_common``).

Open one by URL with :func:`aion.streams.registry.open_stream_log`; each module is imported
only when its backend is asked for, so a missing optional driver matters only when used.
"""
