"""Pull requests to a JetStream consumer that carry a byte budget.

nats-py's ``PullSubscription.fetch`` asks for a number of messages only (nats.py issue 413),
so a read of a shard of large records would pull every one of them into memory. A
:class:`PullConsumer` sends the pull request itself, the JetStream API's
``$JS.API.CONSUMER.MSG.NEXT`` with ``max_bytes``, over a plain NATS subscription, and waits for
each request to end before it sends the next, so no message of an earlier request can arrive
late and out of turn.

A request ends when its batch is full, or with a status message: 404 (nothing to deliver), 408
(it expired, or a ``no_wait`` request delivered fewer messages than asked), or 409 "Message Size
Exceeds MaxBytes" (the next message is larger than the bytes left). JetStream counts a message's
subject and headers as well as its data, so a message it refuses may still fit a budget that
counts data only; the caller asks for that one alone. 409 "Consumer Deleted" means the stream
went (another server deleted it): :class:`~aion.streams.rules.StaleStream`, a StreamNotFound.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nats.js import api

from aion.errors import BackendUnavailable
from aion.streams.rules import StaleStream

__all__ = ["GRACE_SECONDS", "PullConsumer", "Pulled"]

GRACE_SECONDS = 5.0
"""How long past its own expiry a pull request may take to end before the server counts as
unavailable (a ``no_wait`` request ends at once on a live server)."""

_STATUS = "Status"
_DESCRIPTION = "Description"
_OVER_BYTES = "Message Size Exceeds MaxBytes"
_DELETED = "Consumer Deleted"
_ENDED = {"404", "408"}
_HEARTBEAT = "100"


@dataclass(frozen=True, slots=True)
class Pulled:
    """What one pull request delivered, and whether it stopped at its byte budget (the next
    message, not delivered, is larger than the bytes that were left)."""

    messages: list[Any]
    over_bytes: bool


class PullConsumer:
    """An ephemeral pull consumer of a stream and the subscription its messages come to."""

    def __init__(self, nc: Any, stream: str, consumer: str, subscription: Any, js: Any = None):
        self._nc = nc
        self._js = js
        self.stream = stream
        self.name = consumer
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._subscription = subscription
        self._inbox: str = subscription.subject

    @classmethod
    async def create(
        cls, nc: Any, js: Any, stream: str, config: api.ConsumerConfig
    ) -> PullConsumer:
        """A new consumer of ``stream`` with ``config`` (no deliver subject: a pull consumer)."""
        info = await js.add_consumer(stream, config)
        subscription = await nc.subscribe(nc.new_inbox())
        return cls(nc, stream, info.name, subscription, js)

    async def pull(self, batch: int, max_bytes: int | None, wait_seconds: float) -> Pulled:
        """Up to ``batch`` messages holding up to ``max_bytes`` (None: any size). With
        ``wait_seconds`` 0 the request answers at once with what is there; otherwise it waits
        up to that long for the batch to fill (ask for a batch of 1 to wake on the first)."""
        request: dict[str, Any] = {"batch": batch}
        if max_bytes is not None:
            request["max_bytes"] = max_bytes
        if wait_seconds > 0:
            request["expires"] = int(wait_seconds * 1_000_000_000)
        else:
            request["no_wait"] = True
        await self._nc.publish(self._next, json.dumps(request).encode(), reply=self._inbox)
        # nats.errors.TimeoutError out of next_msg: the backend maps it to BackendUnavailable.
        timeout = wait_seconds + GRACE_SECONDS
        messages: list[Any] = []
        while len(messages) < batch:
            message = await self._subscription.next_msg(timeout=timeout)
            status = message.headers.get(_STATUS) if message.headers else None
            if status is None:
                messages.append(message)
            elif status in _ENDED:
                return Pulled(messages, False)
            elif status != _HEARTBEAT:
                description = message.headers.get(_DESCRIPTION, "")
                if status == "409" and description == _OVER_BYTES:
                    return Pulled(messages, True)
                if status == "409" and description == _DELETED:
                    # Its stream was deleted while the request waited (another server).
                    raise StaleStream("the stream was deleted during the read")
                raise BackendUnavailable(
                    "nats", f"a pull request failed: {status} {description}".strip()
                )
        return Pulled(messages, False)

    async def close(self) -> None:
        """Stop listening and delete the consumer on the server (were it only left to expire,
        consumers would pile up there while readers come and go)."""
        try:
            await self._subscription.unsubscribe()
        finally:
            if self._js is not None and self._nc.is_connected:
                await self._js.delete_consumer(self.stream, self.name)
