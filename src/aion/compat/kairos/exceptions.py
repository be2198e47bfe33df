"""Kairos's ``kairos.exceptions``: ``KairosException`` and ``UnknownInterval``.

``KairosException`` is :class:`aion.errors.AionError`, so every error Aion raises is one, as
every Kairos error was a ``KairosException``.
"""

from __future__ import annotations

from aion.errors import AionError, UnknownInterval

__all__ = ["KairosException", "UnknownInterval"]

#: Kairos's exception root; every Aion error derives from it.
KairosException = AionError
