"""The timeseries store backends: ``memory`` (the reference), ``redis`` and ``sql`` (any
SQLAlchemy engine, with its tables in ``sql_schema``).

:func:`aion.timeseries.registry.open_store` picks one from a client object or a URL; the
Redis and SQL modules are imported only when chosen, so a missing driver matters only when used.
"""
