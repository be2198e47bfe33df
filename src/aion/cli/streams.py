"""``triton put`` and ``triton get`` as plain functions for the ``aion`` CLI to register.

A stream is named by a Triton alias (looked up in the Triton YAML: ``config_path``, else
``$TRITON_CONFIG``, else ``/etc/triton.yaml`` when present) or, when no config defines it, by
its Aion name; such a stream is partitioned by the ``msg`` field, which the demo always sets.
"""

from __future__ import annotations

import os
import pprint
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from aion.client.http import API_KEY_ENV, DEFAULT_URL, URL_ENV
from aion.client.streams import StreamsClient
from aion.compat import triton

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
) -> triton.Stream:
    """The Triton stream for an alias of the config, or for an Aion stream name.

    ``url`` (else ``$AION_URL``, else the config's ``url``) picks the server, and ``api_key``
    (else ``$AION_API_KEY``, else the config's ``api_key``) is the key sent to it. A config
    file that was asked for and cannot be read raises ``InvalidConfigurationError``.
    """
    url = url or os.environ.get(URL_ENV)
    api_key = api_key or os.environ.get(API_KEY_ENV)
    path = _config_path(config_path)
    if path is not None:
        try:
            config = triton.load_config(path, default_url=url, default_api_key=api_key)
        except triton.InvalidConfigurationError as exc:
            raise triton.InvalidConfigurationError(f"Failed to load TRITON_CONFIG: {exc}") from exc
        if stream_alias_or_name in config:
            entry = dict(config[stream_alias_or_name])
            if url:
                entry["url"] = url
            if api_key:
                entry["api_key"] = api_key
            return triton.get_stream(stream_alias_or_name, {stream_alias_or_name: entry})
    client = StreamsClient(url or DEFAULT_URL, api_key=api_key)
    return triton.Stream(client, stream_alias_or_name, "msg")


def put_lines(
    stream_alias_or_name: str,
    url: str | None,
    config_path: str | Path | None,
    stdin: TextIO,
    api_key: str | None = None,
) -> int:
    """``triton put -s STREAM``: put every line of ``stdin`` as ``{msg: line, ts: now}`` (the
    line keeps its newline, as in Triton), one blocking put each; return how many."""
    stream = open_stream(stream_alias_or_name, url, config_path, api_key)
    count = 0
    try:
        for line in stdin:
            stream.put(msg=line, ts=time.time())
            count += 1
    finally:
        stream.client.close()
    return count


def _show(record: triton.Record, out: TextIO) -> None:
    out.write(f"{record!r}\n")
    out.write(pprint.pformat(record.data) + "\n\n")
    out.flush()


def get_records(
    stream: str,
    shard_nums: Sequence[int] | None,
    url: str | None,
    config_path: str | Path | None,
    out: TextIO,
    limit: int | None = None,
    api_key: str | None = None,
) -> int:
    """``triton get -s STREAM [-d N ...]``: print records from LATEST (of the shard numbers
    given, else all) as ``<Record shardId-… seq>`` plus the pretty-printed data and a blank
    line, forever or until ``limit`` records. Ctrl-C stops fetching, prints what was already
    fetched and returns; the result is how many records were printed."""
    opened = open_stream(stream, url, config_path, api_key)
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
