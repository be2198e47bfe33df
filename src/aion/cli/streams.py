"""``triton put`` and ``triton get`` as plain functions for the ``aion`` CLI to register.

A stream is named by a Triton alias (looked up in the Triton YAML: ``config_path``, else
``$TRITON_CONFIG``, else ``/etc/triton.yaml`` when present) or, when no config defines it, by
its Aion name; such a stream is partitioned by the ``msg`` field, which the demo always sets.
A stream that does not exist yet is created by its first put.
"""

from __future__ import annotations

import base64
import os
import pprint
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from aion.client.http import API_KEY_ENV, DEFAULT_URL, URL_ENV
from aion.client.streams import StreamsClient
from aion.compat import triton
from aion.errors import ValidationError

__all__ = ["CONFIG_ENV", "DEFAULT_CONFIG_PATH", "get_records", "open_stream", "put_lines"]

CONFIG_ENV = "TRITON_CONFIG"
DEFAULT_CONFIG_PATH = Path("/etc/triton.yaml")


def _config_path(config_path: str | Path | None) -> Path | None:
    if config_path is not None:
        return Path(config_path)
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def open_stream(
    stream_alias_or_name: str,
    url: str | None = None,
    config_path: str | Path | None = None,
    api_key: str | None = None,
    shards: int | None = None,
    namespace: str | None = None,
) -> triton.Stream:
    """The Triton stream for an alias of the config, or for an Aion stream name.

    An alias uses its config entry's ``url`` and ``api_key`` (else ``$AION_URL`` and
    ``$AION_API_KEY``); a stream name uses ``$AION_URL`` / ``$AION_API_KEY``. A ``url`` or
    ``api_key`` passed here (the command line's) comes before both. ``shards`` creates the
    stream with that many shards if it does not exist (without it the server creates it on the
    first put, with its ``default_stream_shards``). A config file that was asked for and
    cannot be read raises ``InvalidConfigurationError``.
    """
    path = _config_path(config_path)
    if path is not None:
        try:
            config = triton.load_config(path)
        except triton.InvalidConfigurationError as exc:
            raise triton.InvalidConfigurationError(f"Failed to load TRITON_CONFIG: {exc}") from exc
        if stream_alias_or_name in config:
            entry = dict(config[stream_alias_or_name])
            given = {"url": url, "api_key": api_key, "shards": shards, "namespace": namespace}
            entry.update({k: v for k, v in given.items() if v is not None})
            return triton.get_stream(stream_alias_or_name, {stream_alias_or_name: entry})
    client = StreamsClient(
        url or os.environ.get(URL_ENV) or DEFAULT_URL,
        namespace=namespace,
        api_key=api_key or os.environ.get(API_KEY_ENV),
    )
    return triton.Stream(client, stream_alias_or_name, "msg", shards=shards)


def put_lines(
    stream_alias_or_name: str,
    url: str | None,
    config_path: str | Path | None,
    stdin: TextIO,
    api_key: str | None = None,
    shards: int | None = None,
    namespace: str | None = None,
) -> int:
    """``triton put -s STREAM``: put every line of ``stdin`` as ``{msg: line, ts: now}`` (the
    line keeps its newline, as in Triton), one blocking put each; return how many."""
    stream = open_stream(stream_alias_or_name, url, config_path, api_key, shards, namespace)
    count = 0
    try:
        for line in stdin:
            try:
                stream.put(msg=line, ts=time.time())
            except KeyError:
                raise ValidationError(
                    f"stream {stream_alias_or_name!r} is partitioned by "
                    f"{stream.partition_key!r} (its partition_key), but put -s writes records "
                    "{msg, ts}: use partition_key msg or ts, as Triton's demo did",
                    "partition_key",
                ) from None
            count += 1
    finally:
        stream.client.close()
    return count


def _show(record: triton.Record, out: TextIO) -> None:
    """Triton's output: the record, its data pretty-printed (msgpack or JSON decoded; other
    bytes in base64 under ``data_base64``), a blank line."""
    data = record.data
    if isinstance(data, bytes):
        data = {"data_base64": base64.b64encode(data).decode("ascii")}
    out.write(f"{record!r}\n")
    out.write(pprint.pformat(data) + "\n\n")
    out.flush()


def get_records(
    stream: str,
    shard_nums: Sequence[int] | None,
    url: str | None,
    config_path: str | Path | None,
    out: TextIO,
    limit: int | None = None,
    api_key: str | None = None,
    namespace: str | None = None,
) -> int:
    """``triton get -s STREAM [-d N ...]``: print records from LATEST (of the shard numbers
    given, else all) as ``<Record shardId-… seq>`` plus the pretty-printed data and a blank
    line, forever or until ``limit`` records. Ctrl-C stops fetching, prints what was already
    fetched and returns; the result is how many records were printed."""
    opened = open_stream(stream, url, config_path, api_key, namespace=namespace)
    shown = 0
    try:
        iterator = opened.build_iterator_from_latest(list(shard_nums) if shard_nums else None)
        while True:
            try:
                for record in iterator:
                    _show(record, out)
                    shown += 1
                    if limit is not None and shown >= limit:
                        iterator.stop()
                return shown
            except KeyboardInterrupt:
                # Triton's behaviour: stop fetching, then drain what is already fetched.
                iterator.stop()
    finally:
        opened.client.close()
