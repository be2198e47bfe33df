"""``pykronos.common``: the time helpers live in ``.time``."""
