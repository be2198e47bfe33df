"""Kairos-style timeseries rollups over memory, Redis and SQL backends.

``Timeseries(client, type=..., intervals=...)`` stores values of one type (``series``,
``histogram``, ``count``, ``gauge`` or ``set``) in buckets of every configured interval and reads
them back with ``get``, ``series`` and ``iterate``. See ``docs/timeseries.md``.

The seam: ``protocol`` is the backend contract, ``registry`` picks a backend from a client
object or a URL, and ``backends`` holds ``memory``, ``redis`` and ``sql``; the pure bucket math
(``intervals``, ``kinds``, ``transforms``, ``columns``, ``writes``, ``reads``, ``numbers``) has
no I/O.
The server's rollups write through this package; :class:`aion.TimeseriesClient` reads them
back over HTTP.
"""

from aion.timeseries.backends.memory import MemoryDatabase
from aion.timeseries.intervals import Interval, parse_intervals
from aion.timeseries.numbers import read_number
from aion.timeseries.protocol import Advance, Kind, StoreError, TimeseriesStore
from aion.timeseries.timeseries import Timeseries, UnknownInterval

__all__ = [
    "Advance",
    "Interval",
    "Kind",
    "MemoryDatabase",
    "StoreError",
    "Timeseries",
    "TimeseriesStore",
    "UnknownInterval",
    "parse_intervals",
    "read_number",
]
