"""The keys a running server checks requests against, kept fresh without a restart.

A server holds the active keys in memory and looks at the keys file at most once per
``min_interval`` seconds (4 bytes of its header, in a thread): a key created or revoked by
``aion keys`` is honoured by every server process within about a second. The times keys were
last used are kept in memory and written back at most once per ``usage_interval``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aion.errors import Unauthorized
from aion.server.ops.auth_rules import Grant
from aion.server.ops.keys import KeyStore, StoredKey, split_token

__all__ = ["KeyRing"]

log = logging.getLogger("aion.server.keys")


class KeyRing:
    """The active keys of one data directory, as a server process sees them."""

    def __init__(
        self, store: KeyStore, min_interval: float = 1.0, usage_interval: float = 60.0
    ) -> None:
        self.store = store
        self.min_interval = min_interval
        self.usage_interval = usage_interval
        self._keys: dict[str, StoredKey] = {}
        self._enabled = False
        self._version: tuple[int, int, bytes] | None = None
        self._checked = float("-inf")
        self._refreshing: asyncio.Lock | None = None
        self._used: dict[str, float] = {}
        self._flushed = time.monotonic()

    @property
    def enabled(self) -> bool:
        """Whether keys are required: once any key was created (as of the last refresh)."""
        return self._enabled

    async def refresh(self) -> None:
        """Re-read the keys if the file changed; cheap when called on every request."""
        now = time.monotonic()
        if now - self._checked < self.min_interval:
            return
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        if self._refreshing.locked():
            return  # another request is refreshing; this one uses the keys as they are
        async with self._refreshing:
            self._checked = now
            await asyncio.to_thread(self._reload_if_changed)
            if self._used and now - self._flushed >= self.usage_interval:
                used, self._used = self._used, {}
                self._flushed = now
                await asyncio.to_thread(self._flush_usage, used)

    def refresh_now(self) -> None:
        """Re-read the keys file (blocking): for start-up and tests."""
        self._checked = time.monotonic()
        self._reload_if_changed()

    def _reload_if_changed(self) -> None:
        version = self.store.version()
        if version == self._version:
            return
        try:
            keys = self.store.load_active()
            enabled = self.store.any_keys()
        except Exception:
            # A keys file being written by another process: keep the old view, retry soon.
            log.exception("cannot read %s; keeping the keys loaded before", self.store.path)
            return
        self._keys, self._enabled, self._version = keys, enabled, version
        log.info("API keys loaded: %d active, required=%s", len(keys), enabled)

    def _flush_usage(self, used: dict[str, float]) -> None:
        try:
            self.store.record_use(used)
        except Exception:
            log.warning("cannot record key usage in %s", self.store.path, exc_info=True)

    def authenticate(self, token: str | None) -> Grant:
        """The grant of a valid, active key; ``Unauthorized`` otherwise."""
        if not token:
            raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
        parts = split_token(token)
        stored = self._keys.get(parts[0]) if parts is not None else None
        if parts is None or stored is None or not stored.matches(parts[1]):
            raise Unauthorized("the API key is not valid (unknown, revoked or mistyped)")
        self._used[stored.grant.key_id] = time.time()
        return stored.grant
