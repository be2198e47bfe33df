"""Rollups: the ``[[rollups]]`` rules that turn stream records into timeseries, and the
timeseries HTTP API that reads them back.

- :mod:`.rules`: parsing and validating the rules of the configuration;
- :mod:`.batches`: the pure step from a page of records to one timeseries write;
- :mod:`.sources`: which StreamLogs a rule follows (the streams engine, the event stores);
- :mod:`.ownership`: one server per (rule, shard), through consumer-group leases;
- :mod:`.worker`: the background task that reads each rule's stream and writes its
  timeseries, checkpointing as it goes;
- :mod:`.timeseries_api` and :mod:`.openapi`: ``/v1/timeseries`` (Aion's error shape).
"""
