"""The streams wire families: sharded streams over the StreamLog
(``app.state.stream_log``).

- native JSON under ``/v1/streams``: :mod:`.native_api` (routes), :mod:`.native_shapes`
  (bodies and answers), :mod:`.native_openapi`;
- Kinesis JSON 1.1 at ``POST /``: :mod:`.kinesis_api` (routes), :mod:`.kinesis_shapes`
  (botocore's shapes and error codes), :mod:`.kinesis_openapi`;
- :mod:`.iterators`: the signed shard iterators both APIs hand out;
- :mod:`.retention`: the background task that trims streams past their retention.

Errors are Aion's shape on the native API and Kinesis's ``__type`` on the other, both with
the status of :mod:`aion.server.errors`.
"""
