"""Kairos's API on Aion: change ``from kairos import Timeseries`` to
``from aion.compat.kairos import Timeseries`` and nothing else.

The constructor and methods keep Kairos's names and signatures::

    Timeseries(client, type=..., intervals=..., read_func=None, write_func=None, **backend_kwargs)
    insert(name, value, timestamp=None, intervals=0, **kwargs)
    bulk_insert(inserts, intervals=0, **kwargs)
    get(name, interval, timestamp=None, transform=None, fetch=None, process_row=None,
        condense=False, join_rows=None, condensed=None)
    series(name, interval, start=None, end=None, steps=None, ..., collapse=False)
    iterate(name, interval, **get_kwargs), list(), properties(name),
    delete(name), delete_all(), expire(name)

``client`` is a ``redis.Redis`` client, an SQLAlchemy Engine or a URL, as in Kairos
(``client_config`` passes driver settings with a URL; ``postgresql://``, ``postgres://``,
``mysql://`` and ``mysql+mysqldb://`` run on the drivers Aion installs). ``prefix=`` works on
every backend. A MongoDB or Cassandra client or URL raises :class:`UnsupportedBackend`, which
says what to use instead.

Kairos's modules are here too: ``aion.compat.kairos.timeseries`` (``Timeseries``,
``RelativeTime``, ``GregorianTime``, ``SIMPLE_TIMES``, ``GREGORIAN_TIMES``) and
``aion.compat.kairos.exceptions`` (``KairosException``, ``UnknownInterval``), so
``from kairos.timeseries import RelativeTime`` becomes
``from aion.compat.kairos.timeseries import RelativeTime``. An unknown ``type`` raises
:class:`UnsupportedType`, which is both a ``NotImplementedError`` (as Kairos raised) and an
:class:`aion.errors.ValidationError`; a bad step raises a ``ValueError`` subclass, as in Kairos.

Behaviour that differs from Kairos, on purpose (its bugs): ``timestamp=0`` is the epoch rather
than "now"; gregorian keys are UTC whatever ``TZ`` says; ``set`` transforms get
``(data, duration)`` like the other types; ``set`` works on SQL; Redis names containing ``:``
are refused; ``list()`` on Redis reads a registry instead of ``KEYS``; an empty gauge reads as
None; ``expire()`` is a no-op on Redis (its TTLs already expire data) instead of raising.
"""

from __future__ import annotations

from typing import Any

from aion.compat.kairos.calendars import GregorianTime, RelativeTime
from aion.compat.kairos.exceptions import KairosException, UnknownInterval
from aion.errors import UnsupportedBackend, UnsupportedType, ValidationError
from aion.timeseries import Timeseries as _NativeTimeseries

__all__ = [
    "GregorianTime",
    "KairosException",
    "RelativeTime",
    "Timeseries",
    "UnknownInterval",
    "UnsupportedBackend",
    "UnsupportedType",
]


class Timeseries(_NativeTimeseries):
    """Kairos's ``Timeseries``: the same constructor and methods over :mod:`aion.timeseries`."""

    def __init__(self, client: Any, **kwargs: Any) -> None:
        kind = kwargs.pop("type", None)
        intervals = kwargs.pop("intervals", None)
        if intervals is None:
            raise ValidationError("intervals is required", field="intervals")
        try:
            super().__init__(client, type=kind, intervals=intervals, **kwargs)
        except ValidationError as exc:
            if exc.field == "type":
                raise UnsupportedType(str(exc), field="type") from exc
            raise
