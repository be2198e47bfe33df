"""``pykronos.common`` as PyKronos laid it out, so ``from pykronos.common.time import ...``
keeps working with ``aion.compat.pykronos`` in its place.

It holds one module, :mod:`.time`: PyKronos's kronos-time conversions (``kronos_time_now``,
``datetime_to_kronos_time``, ``kronos_time_to_epoch_time``, ...), re-exported from
:mod:`aion.core.time`, which keeps sub-second precision where PyKronos truncated.

The seam: nothing is defined here; the conversions live once in the core layer.
"""
