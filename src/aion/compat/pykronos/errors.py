"""``pykronos.errors``."""

from aion.compat.pykronos.client import KronosClientError

__all__ = ["KronosClientError"]
