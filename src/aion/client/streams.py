"""The native streams client: :class:`StreamsClient` (sync) and :class:`AsyncStreamsClient`
over Aion's ``/v1/streams`` API, and :class:`ConsumerGroupWorker` to share a stream's shards
with other processes.

The requests and the reading of answers live once in :mod:`aion.client.streams_calls` (no
I/O); :mod:`aion.client.streams_sync` and :mod:`aion.client.streams_async` only send them,
through :mod:`aion.client.transport`, with the settings every client shares
(:class:`~aion.client.http.HttpSettings`: url, namespace, timeout, ``api_key``); the value
types are in :mod:`aion.client.streams_types`. Errors come back as Aion's exceptions: an
unknown stream or shard as ``StreamNotFound`` / ``ShardNotFound``, a bad position as
``SequencePastEnd`` / ``SequenceTrimmed``, other refusals as ``ValidationError`` (with
``field``), anything else the server answers as ``ResponseError`` (a 401: the server wants an
API key), and an unreachable server as ``RequestError``. Sequence numbers are ints here and
decimal strings on the wire.
"""

from __future__ import annotations

from aion.client.consumer import ConsumerGroupWorker
from aion.client.http import DEFAULT_URL
from aion.client.streams_async import AsyncStreamsClient
from aion.client.streams_sync import StreamsClient
from aion.client.streams_types import (
    GroupMembership,
    LeaseInfo,
    OutgoingRecord,
    Placement,
    ReadBatch,
    ShardInfo,
    StreamInfo,
    StreamRecord,
)

__all__ = [
    "DEFAULT_URL",
    "AsyncStreamsClient",
    "ConsumerGroupWorker",
    "GroupMembership",
    "LeaseInfo",
    "OutgoingRecord",
    "Placement",
    "ReadBatch",
    "ShardInfo",
    "StreamInfo",
    "StreamRecord",
    "StreamsClient",
]
