"""Counts in words, for messages people read: ``1 event``, ``2 events``, ``1 batch was``."""

from __future__ import annotations

__all__ = ["counted", "verb"]

_PLURALS = {"batch": "batches", "entry": "entries"}


def counted(count: int, noun: str, plural: str | None = None, *, grouped: bool = True) -> str:
    """``count`` and ``noun`` in the form that agrees with it: ``counted(1, "event")`` is
    ``"1 event"``, ``counted(1200, "event")`` is ``"1,200 events"`` (``grouped=False``:
    ``"1200 events"``). ``plural`` overrides the plural form (default: a known irregular
    one, else ``noun + "s"``). Only 1 is singular, as in English: ``0 events``."""
    number = f"{count:,}" if grouped else str(count)
    if count == 1:
        return f"{number} {noun}"
    return f"{number} {plural or _PLURALS.get(noun, noun + 's')}"


def verb(count: int, singular: str, plural: str) -> str:
    """The form of a verb that agrees with ``count`` things: ``verb(1, "was", "were")``."""
    return singular if count == 1 else plural
