"""PyKronos's names over Aion: change ``pykronos`` to ``aion.compat.pykronos`` in the import.

``from aion.compat.pykronos.client import KronosClient`` and
``from aion.compat.pykronos.common.time import datetime_to_kronos_time`` work as the PyKronos
README shows; the names are also importable from this package directly.
"""

from aion.compat.pykronos.client import (
    ERRORS_FIELD,
    ID_FIELD,
    LIBRARY_FIELD,
    SUCCESS_FIELD,
    TIMESTAMP_FIELD,
    KronosClient,
    KronosClientError,
    ResultOrder,
)
from aion.compat.pykronos.common.time import (
    datetime_to_kronos_time,
    epoch_time_to_kronos_time,
    kronos_time_now,
    kronos_time_to_datetime,
    kronos_time_to_epoch_time,
    timedelta_to_kronos_time,
)

__all__ = [
    "ERRORS_FIELD",
    "ID_FIELD",
    "LIBRARY_FIELD",
    "SUCCESS_FIELD",
    "TIMESTAMP_FIELD",
    "KronosClient",
    "KronosClientError",
    "ResultOrder",
    "datetime_to_kronos_time",
    "epoch_time_to_kronos_time",
    "kronos_time_now",
    "kronos_time_to_datetime",
    "kronos_time_to_epoch_time",
    "timedelta_to_kronos_time",
]
