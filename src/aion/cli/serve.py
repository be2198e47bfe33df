"""``aion serve``: build the configuration and run uvicorn, with one or several workers."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from aion.errors import BackendUnavailable, ConfigurationError
from aion.server.config import AionConfig

__all__ = ["build_config_mapping", "check_exposure", "run_server"]


def build_config_mapping(data: Path, config: Path | None) -> dict[str, Any]:
    """The server configuration as a plain mapping (it travels to worker processes as JSON)."""
    raw: dict[str, Any] = {}
    if config is not None:
        try:
            raw = tomllib.loads(config.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"cannot read {config}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{config} is not valid TOML: {exc}") from exc
    raw.setdefault("data_dir", str(data.resolve()))
    return raw


def check_exposure(
    host: str, where: Path | AionConfig, insecure: bool, config_path: Path | None = None
) -> None:
    """Refuse to listen beyond loopback while no API key exists, unless ``insecure``.
    ``where`` is a data directory, or the configuration whose keys store counts."""
    from aion.server.ops.auth_rules import is_loopback
    from aion.server.ops.keys_cluster import open_key_store, shared_store_backend

    if insecure or is_loopback(host):
        return
    config = where if isinstance(where, AionConfig) else AionConfig.for_data_dir(where)
    try:
        if open_key_store(config).any_keys():
            return
    except BackendUnavailable:
        return  # a cluster's store that is down: the server refuses requests until it is read
    option = (
        f"--config {config_path or 'aion.toml'}"
        if shared_store_backend(config) is not None
        else f"--data {config.data_dir}"
    )
    raise ConfigurationError(
        f"refusing to listen on {host} with no API key: anyone who can reach it could read "
        f"and delete every event. Create one (aion keys create {option} "
        "--namespace '*' --scopes admin) or pass --insecure"
    )


def run_server(
    *,
    host: str,
    port: int,
    data: Path,
    config: Path | None,
    workers: int,
    log_level: str,
    log_format: str = "text",
    insecure: bool = False,
    shutdown_timeout: float = 30.0,
    node_id: str | None = None,
) -> None:
    """Serve until interrupted; on SIGTERM, finish in-flight requests (for at most
    ``shutdown_timeout`` seconds), then close the stores, which commit every queued write.
    ``node_id``, when given, replaces the config's."""
    import uvicorn

    from aion.server.app import CONFIG_ENV, create_app, tune_interpreter
    from aion.server.ops.connection import WireLimits, uvicorn_options
    from aion.server.ops.keys_cluster import check_cluster_start
    from aion.server.ops.log_config import log_config

    tune_interpreter()
    raw = build_config_mapping(data, config)
    if node_id:
        raw["node_id"] = node_id  # one config file for every server, each with its own name
    checked = AionConfig.from_mapping(raw, source=str(config or "defaults"))  # fail early
    checked.data_dir.mkdir(parents=True, exist_ok=True)
    check_cluster_start(checked, str(config or "aion.toml"))
    check_exposure(host, checked, insecure, config)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "log_config": log_config(log_format, log_level),
        "access_log": False,  # Aion's own access log has the duration and namespace
        "timeout_graceful_shutdown": max(1, round(shutdown_timeout)),
        # Header caps and the request clock; the protocol pickles, so workers get it too.
        **uvicorn_options(WireLimits.from_config(checked)),
    }
    if workers == 1:
        uvicorn.run(create_app(checked), **options)
        return
    os.environ[CONFIG_ENV] = json.dumps(raw)
    uvicorn.run("aion.server.app:create_app_from_env", factory=True, workers=workers, **options)
