"""The EventStore backends: ``memory`` (the reference), ``sqlite`` (embedded, one writer
thread, with its WAL checkpointer in ``sqlite_checkpoint``) and ``postgres``.

Open one by URL with :func:`aion.storage.registry.open_event_store`; each module is imported
only when its backend is asked for, so a missing optional driver matters only when used.
"""
