"""The server's typed configuration, read from ``aion.toml`` (or built from ``--data``).

Example ``aion.toml``::

    default_namespace = "default"
    namespaces = []            # empty: any namespace, created on its first write
    serving_mode = "all"       # all | collector | readonly
    max_body_bytes = 16777216
    flush_size = 131072
    cors_origins = ["*"]
    max_header_bytes = 65536   # a request's line and headers; more is answered 431
    max_headers = 100          # header fields per request; more is answered 431
    request_timeout_seconds = 30.0  # for a request's head, and the longest pause in its body
    streams = "sqlite"         # the sharded streams' store: a backend name or a URL
                               # (default: the read backend of the default route)
    default_stream_shards = 4  # a native put to an unknown stream creates it with this
                               # many shards (0: refuse it, 404 StreamNotFound)
    keys_store = "pg"          # API keys and shared secrets: a PostgreSQL backend, a
                               # redis:// URL, or "local"
                               # (default: the default route's read backend, if PostgreSQL)
    open = false               # true: a cluster server may start with no API key

    [backends.sqlite]
    url = "sqlite:///aion-data/aion.db"

    [backends.pg]
    url = "postgresql://postgres@127.0.0.1/aion"

    [[routes]]                 # longest matching prefix wins, per namespace ("*" = any)
    namespace = "*"
    prefix = ""
    backends = ["sqlite", "pg"]   # writes fan out to every one
    read_backend = "sqlite"       # reads come from this one
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from aion.core.events import validate_namespace
from aion.errors import ConfigurationError, NamespaceNotAllowed

__all__ = ["DEFAULT_PORT", "MAX_STREAM_SHARDS", "AionConfig", "Route", "ServingMode"]

DEFAULT_PORT = 8151
MAX_STREAM_SHARDS = 10_000
"""The most shards a stream may have (what ``StreamLog.create_stream`` accepts)."""


class ServingMode(StrEnum):
    """Which Kronos endpoints a node serves."""

    ALL = "all"
    COLLECTOR = "collector"
    READONLY = "readonly"


@dataclass(frozen=True, slots=True)
class Route:
    """Where the streams of a namespace that start with ``prefix`` are written and read."""

    namespace: str
    prefix: str
    backends: tuple[str, ...]
    read_backend: str


@dataclass(frozen=True, slots=True)
class AionConfig:
    """Everything the server needs to start."""

    backends: dict[str, str]
    routes: tuple[Route, ...]
    data_dir: Path = Path("aion-data")
    default_namespace: str = "default"
    namespaces: tuple[str, ...] = ()
    serving_mode: ServingMode = ServingMode.ALL
    max_body_bytes: int = 16 * 1024 * 1024
    flush_size: int = 131_072
    cors_origins: tuple[str, ...] = ("*",)
    max_header_bytes: int = 65_536
    max_headers: int = 100
    request_timeout_seconds: float = 30.0
    node_id: str = "aion"
    streams: str | None = None
    default_stream_shards: int = 4
    keys_store: str | None = None
    open_access: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.backends:
            raise ConfigurationError("at least one backend must be configured")
        for route in self.routes:
            for name in (*route.backends, route.read_backend):
                if name not in self.backends:
                    raise ConfigurationError(
                        f"route {route.namespace!r}/{route.prefix!r} names backend {name!r}, "
                        f"which is not among [backends]: {sorted(self.backends)}"
                    )
        if not any(r.prefix == "" for r in self.routes if r.namespace == "*"):
            raise ConfigurationError('the routes need a default: namespace "*" with prefix ""')
        if self.max_body_bytes < 1024:
            raise ConfigurationError("max_body_bytes must be at least 1024")
        if self.flush_size < 1:
            raise ConfigurationError("flush_size must be positive")
        if self.max_header_bytes < 1024:
            raise ConfigurationError("max_header_bytes must be at least 1024")
        if self.max_headers < 1:
            raise ConfigurationError("max_headers must be positive")
        if not 0 < self.request_timeout_seconds < math.inf:
            raise ConfigurationError("request_timeout_seconds must be a positive number")
        if not 0 <= self.default_stream_shards <= MAX_STREAM_SHARDS:
            raise ConfigurationError(
                f"default_stream_shards must be from 0 to {MAX_STREAM_SHARDS}, "
                f"not {self.default_stream_shards}"
            )
        keys_store = self.keys_store
        if keys_store not in (None, "local", *self.backends) and "://" not in str(keys_store):
            raise ConfigurationError(
                f"keys_store names backend {self.keys_store!r}, which is neither 'local', a "
                f"redis:// URL, nor among [backends]: {sorted(self.backends)}"
            )
        if (
            self.streams is not None
            and "://" not in self.streams
            and (self.streams not in self.backends)
        ):
            raise ConfigurationError(
                f"streams names backend {self.streams!r}, which is not among [backends]: "
                f"{sorted(self.backends)}"
            )

    def served_namespace(self, namespace: object | None) -> str:
        """The namespace a request names (None: the default), checked against the naming
        rule and the allow-list. A refusal never shows the allow-list: it names the other
        tenants."""
        name = self.default_namespace if namespace is None else namespace
        name = validate_namespace(name)
        if self.namespaces and name not in self.namespaces:
            raise NamespaceNotAllowed(f"namespace {name!r} is not served here", "namespace")
        return name

    @property
    def streams_backend(self) -> str | None:
        """The [backends] name the sharded streams use, or None when ``streams`` is a URL."""
        if self.streams is not None:
            return None if "://" in self.streams else self.streams
        return next(r.read_backend for r in self.routes if r.namespace == "*" and not r.prefix)

    @classmethod
    def for_data_dir(cls, data_dir: str | Path, **overrides: Any) -> AionConfig:
        """The single-machine default: one SQLite file in ``data_dir``."""
        path = Path(data_dir).resolve()
        config = cls(
            backends={"sqlite": f"sqlite:///{path / 'aion.db'}"},
            routes=(Route("*", "", ("sqlite",), "sqlite"),),
            data_dir=path,
        )
        return replace(config, **overrides) if overrides else config

    @classmethod
    def from_toml(cls, path: str | Path, data_dir: str | Path | None = None) -> AionConfig:
        """Read ``aion.toml``; a missing ``[backends]`` means the SQLite default in the data
        directory."""
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"cannot read config {path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path} is not valid TOML: {exc}") from exc
        return cls.from_mapping(raw, data_dir=data_dir, source=str(path))

    @classmethod
    def from_mapping(
        cls, raw: dict[str, Any], data_dir: str | Path | None = None, source: str = "config"
    ) -> AionConfig:
        """Build from a parsed TOML document, naming the key at fault on a bad value."""
        known = {
            "backends", "routes", "data_dir", "default_namespace", "namespaces", "serving_mode",
            "max_body_bytes", "flush_size", "cors_origins", "node_id", "streams",
            "max_header_bytes", "max_headers", "request_timeout_seconds",
            "default_stream_shards", "keys_store", "open",
        }  # fmt: skip
        base = cls.for_data_dir(data_dir or raw.get("data_dir", "aion-data"))
        try:
            backends = {
                str(name): str(spec["url"] if isinstance(spec, dict) else spec)
                for name, spec in raw.get("backends", base.backends).items()
            }
            routes = tuple(
                Route(
                    namespace=str(r.get("namespace", "*")),
                    prefix=str(r.get("prefix", "")),
                    backends=tuple(r["backends"]),
                    read_backend=str(r.get("read_backend", r["backends"][0])),
                )
                for r in raw.get("routes", [])
            )
            if not routes:
                # No routes: every configured backend takes writes, the first serves reads.
                routes = (
                    (Route("*", "", tuple(backends), next(iter(backends))),)
                    if "backends" in raw
                    else base.routes
                )
            return cls(
                backends=backends,
                routes=routes,
                data_dir=base.data_dir,
                default_namespace=str(raw.get("default_namespace", "default")),
                namespaces=tuple(str(n) for n in raw.get("namespaces", ())),
                serving_mode=ServingMode(raw.get("serving_mode", "all")),
                max_body_bytes=int(raw.get("max_body_bytes", base.max_body_bytes)),
                flush_size=int(raw.get("flush_size", base.flush_size)),
                cors_origins=tuple(raw.get("cors_origins", base.cors_origins)),
                max_header_bytes=_integer(raw, "max_header_bytes", base.max_header_bytes),
                max_headers=_integer(raw, "max_headers", base.max_headers),
                request_timeout_seconds=_seconds(
                    raw, "request_timeout_seconds", base.request_timeout_seconds
                ),
                node_id=str(raw.get("node_id", base.node_id)),
                streams=str(raw["streams"]) if raw.get("streams") else None,
                default_stream_shards=_integer(
                    raw, "default_stream_shards", base.default_stream_shards
                ),
                keys_store=str(raw["keys_store"]) if "keys_store" in raw else None,
                open_access=_boolean(raw, "open", base.open_access),
                extra={k: v for k, v in raw.items() if k not in known},
            )
        except KeyError as exc:
            raise ConfigurationError(f"{source}: missing key {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"{source}: {exc}") from exc


def _integer(raw: dict[str, Any], key: str, default: int) -> int:
    """``raw[key]`` as an int; a ValueError naming the key (``from_mapping`` adds the
    source)."""
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer, not {value!r}")
    return value


def _boolean(raw: dict[str, Any], key: str, default: bool) -> bool:
    """``raw[key]`` as a bool (TOML ``true``/``false`` only); a ValueError naming the key."""
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, not {value!r}")
    return value


def _seconds(raw: dict[str, Any], key: str, default: float) -> float:
    """``raw[key]`` as a float number of seconds; a ValueError naming the key."""
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number of seconds, not {value!r}")
    return float(value)
