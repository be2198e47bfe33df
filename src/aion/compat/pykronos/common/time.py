"""``pykronos.common.time``: the kronos-time helpers, from ``aion.core.time``.

Unlike PyKronos, ``kronos_time_to_epoch_time`` and ``kronos_time_to_datetime`` keep
sub-second precision rather than truncating to whole seconds.
"""

from aion.core.time import (
    EPOCH,
    datetime_to_epoch_time,
    datetime_to_kronos_time,
    epoch_time_to_kronos_time,
    kronos_time_now,
    kronos_time_to_datetime,
    kronos_time_to_epoch_time,
    timedelta_to_kronos_time,
)

__all__ = [
    "EPOCH",
    "datetime_to_epoch_time",
    "datetime_to_kronos_time",
    "epoch_time_to_kronos_time",
    "kronos_time_now",
    "kronos_time_to_datetime",
    "kronos_time_to_epoch_time",
    "timedelta_to_kronos_time",
]
