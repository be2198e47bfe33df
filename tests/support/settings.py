"""How AionConfig's fields are spelled in aion.toml, for the tests that check every setting
is documented (README's example, aion.example.toml)."""

from __future__ import annotations

import dataclasses

from aion.server.config import AionConfig

TOML_KEYS = {"open_access": "open"}
"""Fields whose aion.toml key is another word."""


def toml_keys(*internal: str) -> list[str]:
    """Every aion.toml key of AionConfig's fields, apart from the ``internal`` fields."""
    return [
        TOML_KEYS.get(f.name, f.name)
        for f in dataclasses.fields(AionConfig)
        if f.name not in internal
    ]
