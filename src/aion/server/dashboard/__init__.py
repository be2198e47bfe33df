"""The dashboard: the page at ``/ui`` (plain files under ``static/ui``, served by
:mod:`.page`) and the reads behind it under ``/ui/api`` (:mod:`.api`).

The reads are bounded: :mod:`.reads` fetches capped pages from the event service,
:mod:`.stats` and :mod:`.rollup` summarise them without I/O, :mod:`.tail` streams new events
as server-sent events, :mod:`.shapes` holds the answers' types. Errors are Aion's shape, with
the status of :mod:`aion.server.errors`.
"""
