"""The ``aion`` command (typer): ``serve`` runs the server; the other commands use it over
HTTP through the clients in :mod:`aion.client`.

``main`` holds the app and the event commands (``put``, ``get``, ``delete``, ``schema``, and
Triton's ``put -s`` / ``get -s`` from ``streams``); ``streams_admin`` is ``aion streams`` (event
streams, and ``create``/``describe``/``delete``/``list`` of sharded ones); ``ts`` reads rollups;
``transfer`` is ``export`` / ``import``; ``keys`` manages API keys, ``config`` prints the
example ``aion.toml`` and checks one, and ``serve`` starts uvicorn. ``options`` holds the
options every client command shares (``--url``, ``--namespace``, ``--api-key``, defaulting to
``$AION_URL``, ``$AION_NAMESPACE`` and ``$AION_API_KEY``), and ``output`` prints errors
(stderr, exit status 2), progress, and counts in words.

The seam: this is the top layer, and with the app factory the only place that reads the
environment (the compat layers read only the variables their libraries read); it holds no
logic a library user would need.
"""
