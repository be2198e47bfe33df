"""``ISStreamer.Streamer`` on Aion's shipper: the same constructor, methods and ini file.

What is kept: ``Streamer(bucket_name, bucket_key, access_key, ini_file_location, debug_level,
buffer_size, offline, use_async)``, ``log``, ``log_object``, ``flush``, ``close``,
``set_bucket``, the ``isstreamer.ini`` lookup (an explicit path must exist; else
``~/isstreamer.ini``, then ``./isstreamer.ini``), the offline CSV mode, the missed-events file
and the wire format (``POST /api/buckets``, ``POST /api/events`` with ``X-IS-*`` headers).

Where it sends: the constructor's ``stream_api_base``, else the ini file's, else ``$AION_URL``,
else ``http://127.0.0.1:8151`` (a local Aion; never Initial State's cloud unless asked). The
access key is the argument, else the ini file's, else ``$AION_API_KEY``, else
``DEFAULT_ACCESS_KEY``. The spool and the missed-events file live in ``spool_dir`` (default
``~/.cache/aion/isstreamer``), never in the working directory unless asked.

What is fixed: the buffer is bounded (``buffer_size`` sets the batch size, not the memory);
one daemon sender thread instead of a thread per batch; queued events go to the bucket they
were logged for even after ``set_bucket``; 429 without ``Retry-After`` is retried with backoff,
not dropped; a 402 no longer kills the sender; what cannot be sent is spooled and replayed on
the next start, and also listed in the missed-events file (opened in append mode, not
truncated); ``stream_api_base`` is read even when ``[isstreamer.client_config]`` is absent;
``offline_file`` gets ``.csv`` only when it lacks it; ``log_object`` also logs namedtuple and
dataclass fields and plain instance attributes; events are sent at least every second.
"""

from __future__ import annotations

import configparser
import csv
import dataclasses
import math
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from aion.client.shipper import (
    AttemptResult,
    Batch,
    Compression,
    RouteTarget,
    Shipper,
    ShipperConfig,
)
from aion.errors import ConfigurationError, ShippingFailed

__all__ = [
    "DEFAULT_ACCESS_KEY",
    "DEFAULT_STREAM_API_BASE",
    "IniConfig",
    "ShippingFailed",
    "Streamer",
    "default_spool_dir",
    "read_config",
    "resolve_api_base",
]

#: Where events go when neither the constructor, the ini file nor ``$AION_URL`` says: a
#: local Aion (``aion serve``), never Initial State's cloud.
DEFAULT_STREAM_API_BASE = "http://127.0.0.1:8151"
#: The access key sent when none is given (argument, ini file or ``$AION_API_KEY``): an Aion
#: server without API keys accepts any non-empty one.
DEFAULT_ACCESS_KEY = "aion-local"
API_VERSION_RANGE = "<=0.0.4"
USER_AGENT = "PyStreamer v2.0.0 (aion)"
_CLIENT = "isstreamer.client_config"
_API = "isstreamer.api_config"


@dataclass(frozen=True, slots=True)
class IniConfig:
    """The settings of an ``isstreamer.ini`` (or the defaults)."""

    access_key: str = ""
    bucket: str = ""
    offline_mode: bool = False
    offline_file: str = "./isstreamer_out.csv"
    #: None when the ini file does not set it (then ``$AION_URL``, then the default).
    stream_api_base: str | None = None


def read_config(ini_file_location: str | Path | None = None) -> IniConfig:
    """Read the ini file by ISStreamer's lookup rules; missing keys keep their defaults."""
    if ini_file_location is not None:
        path = Path(ini_file_location)
        if not path.exists():
            raise ConfigurationError(f"ini file {str(path)!r} does not exist or is not readable")
    else:
        candidates = [Path.home() / "isstreamer.ini", Path.cwd() / "isstreamer.ini"]
        found = [p for p in candidates if p.exists()]
        if not found:
            return IniConfig()
        path = found[0]
    parser = configparser.ConfigParser()
    parser.read(path)
    values: dict[str, Any] = {}
    if parser.has_section(_CLIENT):
        section = parser[_CLIENT]
        if "access_key" in section:
            values["access_key"] = section["access_key"]
        if "default_bucket" in section:
            values["bucket"] = section["default_bucket"]
        if "offline_mode" in section:
            values["offline_mode"] = section["offline_mode"].strip().lower() == "true"
        if "offline_file" in section:
            values["offline_file"] = section["offline_file"]
    if parser.has_option(_API, "stream_api_base"):
        base = parser.get(_API, "stream_api_base").strip()
        if not base.startswith(("http://", "https://")):
            raise ConfigurationError("stream_api_base must start with http:// or https://")
        values["stream_api_base"] = base.rstrip("/")
    return IniConfig(**values)


def default_spool_dir() -> Path:
    """The per-user spool directory: ``$XDG_CACHE_HOME/aion/isstreamer``, else
    ``~/.cache/aion/isstreamer`` (never the working directory)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aion" / "isstreamer"


def resolve_api_base(argument: str | None, ini_value: str | None) -> str:
    """The events API's base URL: the constructor's ``stream_api_base``, else the ini file's,
    else ``$AION_URL``, else ``DEFAULT_STREAM_API_BASE``."""
    for candidate in (argument, ini_value, os.environ.get("AION_URL")):
        if candidate:
            base = candidate.strip()
            if not base.startswith(("http://", "https://")):
                raise ConfigurationError(
                    f"stream_api_base must start with http:// or https://, not {base!r}"
                )
            return base.rstrip("/")
    return DEFAULT_STREAM_API_BASE


def _valid_epoch(epoch: object) -> float | None:
    if isinstance(epoch, bool) or not isinstance(epoch, int | float):
        return None
    # Keep the caller's number as it is (an int stays an int on the wire).
    return epoch if math.isfinite(epoch) and epoch >= 0 else None


class Streamer:
    """Streams key/value events to an Initial State bucket (or Aion's Initial State API)."""

    def __init__(
        self,
        bucket_name: str = "",
        bucket_key: str = "",
        access_key: str = "",
        ini_file_location: str | None = None,
        debug_level: int = 0,
        buffer_size: int = 10,
        offline: bool | None = None,
        use_async: bool = True,
        *,
        stream_api_base: str | None = None,
        spool_dir: str | Path | None = None,
        missed_events_file: str | Path | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        config = read_config(ini_file_location)
        self.DebugLevel = debug_level
        self.Offline = config.offline_mode if offline is None else bool(offline)
        self.Async = use_async
        self.AccessKey = (
            access_key
            or config.access_key
            or os.environ.get("AION_API_KEY", "")
            or DEFAULT_ACCESS_KEY
        )
        self.BufferSize = max(1, int(buffer_size))
        self.StreamApiBase = resolve_api_base(stream_api_base, config.stream_api_base)
        self.IsClosed = False
        self.BucketKey = ""
        self.BucketName = ""
        spool = Path(spool_dir) if spool_dir else default_spool_dir()
        self._missed_path = (
            Path(missed_events_file) if missed_events_file else spool / "err_missed_events.txt"
        )
        self.MissedEvents: IO[str] | None = None
        self.LocalFileHandler: IO[str] | None = None
        self._transport = transport
        self._shipper: Shipper | None = None
        if self.Offline:
            name = (
                config.offline_file
                if config.offline_file.endswith(".csv")
                else (config.offline_file + ".csv")
            )
            self.LocalFileHandler = Path(name).open("w", newline="")  # noqa: SIM115
            self.LocalFile = csv.writer(self.LocalFileHandler)
        else:
            self._shipper = Shipper(
                ShipperConfig(
                    url=f"{self.StreamApiBase}/api/events",
                    max_batch_events=self.BufferSize,
                    flush_interval=1.0,
                    compression=Compression.NONE,
                    spool_dir=spool,
                    spool_name="isstreamer",
                    name="isstreamer",
                ),
                transport=transport,
                autostart=use_async,
                target=self._target,
                on_reject=self._on_reject,
                on_spill=self._on_spill,
            )
        self.set_bucket(bucket_name or config.bucket, bucket_key)
        self.console_message(f"access_key: {self.AccessKey}")
        self.console_message(f"stream_api_base: {self.StreamApiBase}")

    # -- wire --------------------------------------------------------------------------------

    def _headers(self, bucket_key: str) -> dict[str, str]:
        return {
            "User-Agent": USER_AGENT,
            "Accept-Version": API_VERSION_RANGE,
            "X-IS-AccessKey": self.AccessKey,
            "X-IS-BucketKey": bucket_key,
        }

    def _target(self, route: str) -> RouteTarget:
        return RouteTarget(f"{self.StreamApiBase}/api/events", self._headers(route))

    def _write_missed(self, batch: Batch) -> None:
        if self.MissedEvents is None:
            self._missed_path.parent.mkdir(parents=True, exist_ok=True)
            self.MissedEvents = self._missed_path.open("a")
        self.MissedEvents.write("[" + ",".join(p.decode() for p in batch.payloads) + "]\n")
        self.MissedEvents.flush()

    def _on_reject(self, batch: Batch, result: AttemptResult) -> None:
        if result.status == 402:
            self.console_message("Either account is capped or an upgrade is required.", 0)
        elif result.status in (401, 403):
            self.console_message(f"ERROR: unauthorized access_key: {self.AccessKey}", 0)
        else:
            self.console_message(f"ship: refused with status {result.status}", 0)
        self._write_missed(batch)

    def _on_spill(self, batch: Batch) -> None:
        self.console_message("ship: not sent yet; spooled for replay", 0)
        self._write_missed(batch)

    # -- the API -----------------------------------------------------------------------------

    def set_bucket(self, bucket_name: str = "", bucket_key: str = "", retries: int = 3) -> None:
        """Switch to a bucket (created if needed); events already logged keep their bucket."""
        self.BucketKey = bucket_key or str(uuid.uuid4())
        self.BucketName = bucket_name
        if self.Offline:
            self.console_message("Working in offline mode.", 0)
            return
        body = {"bucketKey": self.BucketKey, "bucketName": bucket_name}
        headers = self._headers(self.BucketKey)
        url = f"{self.StreamApiBase}/api/buckets"
        for attempt in range(max(1, retries)):
            try:
                with httpx.Client(transport=self._transport, timeout=10) as http:
                    response = http.post(url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                self.console_message(f"set_bucket: attempt {attempt + 1} failed: {exc}")
                time.sleep(min(1.0, 0.1 * 2**attempt))
                continue
            if response.status_code < 300:
                return
            self.console_message(f"Bucket Creation Failed: status {response.status_code}", 0)
            if response.status_code < 500 and response.status_code not in (408, 429):
                break
        if self.DebugLevel >= 2:
            raise ShippingFailed(f"could not create bucket {self.BucketKey!r}")

    def console_message(self, message: str, level: int = 1) -> None:
        """Print ``message`` when ``debug_level >= level``."""
        if self.DebugLevel >= level:
            print(message)

    def log(self, key: str, value: Any, epoch: float | None = None) -> None:
        """Record ``value`` for ``key`` now (or at ``epoch`` seconds, when it is valid)."""
        stamp = time.time() if epoch is None else _valid_epoch(epoch)
        if stamp is None:
            self.console_message("epoch was overridden with an invalid time; using now")
            stamp = time.time()
        if self.Offline:
            self.LocalFile.writerow([stamp, key, value])
            return
        assert self._shipper is not None
        self._shipper.put({"key": key, "value": value, "epoch": stamp}, route=self.BucketKey)
        if not self.Async and self._shipper.counters.depth >= self.BufferSize:
            self._flush_checked()

    def log_object(
        self, obj: Any, key_prefix: str | None = None, epoch: float | None = None
    ) -> None:
        """Log every item of a list or dict, or every field of an object, at one time."""
        stamp = time.time() if epoch is None else epoch
        if key_prefix is None:
            prefix = f"{type(obj).__name__}_"
        else:
            prefix = f"{key_prefix}_" if key_prefix else ""
        for name, value in _object_items(obj):
            self.log(f"{prefix}{name}", value, epoch=stamp)

    def flush(self) -> None:
        """Send everything logged so far, now."""
        if self.Offline:
            if self.LocalFileHandler is not None:
                self.LocalFileHandler.flush()
            return
        self._flush_checked()

    def _flush_checked(self) -> None:
        assert self._shipper is not None
        before = self._shipper.counters
        self._shipper.flush()
        after = self._shipper.counters
        failed = (after.rejected - before.rejected) + (after.spilled - before.spilled)
        if failed and self.DebugLevel >= 2:
            raise ShippingFailed(f"shipping failed for {failed} events.. network issue?")

    def close(self) -> None:
        """Flush, stop the sender and close the files."""
        if self.IsClosed:
            return
        self.IsClosed = True
        if self._shipper is not None:
            self._shipper.close(timeout=30)
        if self.MissedEvents is not None:
            self.MissedEvents.close()
        if self.LocalFileHandler is not None:
            self.LocalFileHandler.close()

    def __enter__(self) -> Streamer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not getattr(self, "IsClosed", True):
                self.close()
        except Exception:
            if getattr(self, "DebugLevel", 0) >= 2:
                raise

    @property
    def counters(self) -> dict[str, int]:
        """The shipper's counters (empty offline)."""
        return {} if self._shipper is None else self._shipper.counters.as_dict()


def _object_items(obj: Any) -> list[tuple[str, Any]]:
    if isinstance(obj, list | tuple) and not hasattr(obj, "_fields"):
        return [(str(i), v) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        return [(str(k), v) for k, v in obj.items()]
    if hasattr(obj, "_fields"):  # a namedtuple (psutil's results, for instance)
        return [(name, getattr(obj, name)) for name in obj._fields]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    items: dict[str, Any] = {}
    for name in dir(type(obj)):
        if isinstance(getattr(type(obj), name, None), property):
            items[name] = getattr(obj, name)
    for name, value in getattr(obj, "__dict__", {}).items():
        if not name.startswith("_") and not callable(value):
            items[name] = value
    return sorted(items.items())
