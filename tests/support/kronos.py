"""The configuration the Kronos tests share: a backend named ``memory``, the Kronos namespaces."""

from __future__ import annotations

from pathlib import Path

from aion.server.config import AionConfig, Route


def kronos_test_config(tmp_path: Path, **overrides: object) -> AionConfig:
    """The configuration the Kronos tests used: a backend named ``memory``, namespaces
    kronos, namespace1, namespace2 and computed."""
    return AionConfig(
        backends={"memory": "memory://"},
        routes=(Route("*", "", ("memory",), "memory"),),
        data_dir=tmp_path,
        default_namespace="kronos",
        namespaces=("kronos", "namespace1", "namespace2", "computed"),
        flush_size=512,
        **overrides,  # type: ignore[arg-type]
    )
