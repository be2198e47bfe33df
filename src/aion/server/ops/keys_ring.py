"""The keys a running server checks requests against, kept fresh without a restart.

A server holds the active keys in memory and asks the store whether they changed at most once
per ``min_interval`` seconds (in a thread): for the local ``keys.db`` that is 4 bytes of its
header, every second; for a cluster's shared store (PostgreSQL or Redis) one small query,
every 2 seconds
(:data:`~aion.server.ops.keys_cluster.SHARED_REFRESH_SECONDS`). A key created or revoked by
``aion keys`` is honoured by every server process within that time. The times keys were last
used are kept in memory and written back at most once per ``usage_interval``.

A ring over a shared store also holds the cluster's iterator-signing secret, read with the
keys. Until such a ring has read its store once, it is not :attr:`~KeyRing.ready`: the server
then answers 503 rather than serving without knowing the keys (a cluster never starts open
because its database was down).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable

from aion.errors import Unauthorized
from aion.server.ops.auth_rules import Grant
from aion.server.ops.keys import ApiKeyStore, StoredKey, split_token

__all__ = ["ITERATOR_SECRET", "KeyRing"]

ITERATOR_SECRET = "shard-iterators"
"""The name of the shared secret that signs shard iterators in a cluster."""

log = logging.getLogger("aion.server.keys")

_UNREAD = object()


class KeyRing:
    """The active keys of one keys store, as a server process sees them."""

    def __init__(
        self,
        store: ApiKeyStore,
        min_interval: float = 1.0,
        usage_interval: float = 60.0,
        shared: bool = False,
        required: bool = False,
    ) -> None:
        self.store = store
        self.required = required
        self.min_interval = min_interval
        self.usage_interval = usage_interval
        self.shared = shared
        self._keys: dict[str, StoredKey] = {}
        self._enabled = False
        self._ready = not shared
        self._iterator_secret: str | None = None
        self._version: Hashable = _UNREAD
        self._checked = float("-inf")
        self._refreshing: asyncio.Lock | None = None
        self._used: dict[str, float] = {}
        self._flushed = time.monotonic()
        self._background: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        """Whether keys are required: once any key was created (as of the last refresh), and
        always on a cluster server not configured ``open = true`` (``required``), so one whose
        store was unreachable at start-up and then holds no key refuses rather than opens."""
        return self._enabled or self.required

    @property
    def ready(self) -> bool:
        """Whether the keys are known: always for a local store, after the first successful
        read for a shared one."""
        return self._ready

    @property
    def iterator_secret(self) -> str | None:
        """The cluster's iterator-signing secret (a shared store, once read), else None."""
        return self._iterator_secret

    async def refresh(self) -> None:
        """Re-read the keys if they changed; cheap when called on every request.

        A ring over a shared store that has read it once refreshes in the background: a
        request never waits on a slow or unreachable database, it uses the keys as they are."""
        now = time.monotonic()
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        if now - self._checked < self.min_interval:
            if not self._ready and self._refreshing.locked():
                async with self._refreshing:  # the first read is under way: wait for it
                    pass
            return
        if self._refreshing.locked():
            if not self._ready:
                async with self._refreshing:  # the first read: wait for it, do not serve blind
                    return
            return  # another request is refreshing; this one uses the keys as they are
        if self.shared and self._ready:
            self._checked = now
            self._background = asyncio.create_task(self._refresh(now))
            return
        await self._refresh(now)

    async def _refresh(self, now: float) -> None:
        assert self._refreshing is not None
        async with self._refreshing:
            self._checked = now
            await asyncio.to_thread(self._reload_if_changed)
            if self._used and now - self._flushed >= self.usage_interval:
                used, self._used = self._used, {}
                self._flushed = now
                await asyncio.to_thread(self._flush_usage, used)

    def refresh_now(self) -> None:
        """Re-read the keys (blocking): for start-up and tests."""
        self._checked = time.monotonic()
        self._reload_if_changed()

    def _reload_if_changed(self) -> None:
        try:
            version = self.store.version()
            if self.shared and self._iterator_secret is None:
                self._iterator_secret = self.store.shared_secret(ITERATOR_SECRET)
            if version == self._version:
                return
            keys = self.store.load_active()
            enabled = self.store.any_keys()
        except Exception:
            # A store being written by another process, or a database that is down: keep the
            # old view, retry soon.
            log.exception("cannot read the API keys in %s; keeping those read before", self.where)
            return
        self._keys, self._enabled, self._version = keys, enabled, version
        self._ready = True
        log.info("API keys loaded: %d active, required=%s", len(keys), enabled)

    @property
    def where(self) -> str:
        """The store, as messages name it."""
        return self.store.where

    def _flush_usage(self, used: dict[str, float]) -> None:
        try:
            self.store.record_use(used)
        except Exception:
            log.warning("cannot record key usage in %s", self.where, exc_info=True)

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
