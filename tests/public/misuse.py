"""Calls the public API refuses; ``test_typed_usage`` expects mypy to flag each marked line."""

from __future__ import annotations

from aion import Client, StreamsClient, TimeseriesClient

with Client() as client:
    client.get("clicks", 1.5, "now")  # error: a float is not a time
    client.put(["not", "a", "mapping"])  # error: events go by stream
with StreamsClient() as streams:
    streams.put("orders", "key", "not bytes")  # error: records are bytes
with TimeseriesClient() as ts:
    shown: int = ts.get("views").target  # error: a target is a str
