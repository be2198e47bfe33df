"""The StreamLog contract, re-exported from :mod:`aion.core.streamlog`.

The contract lives in the core layer so that both ``aion.streams`` (memory, Redis, NATS) and
``aion.storage`` (SQLite, PostgreSQL over the event tables) can implement it; import it from
here in code above those layers.
"""

from __future__ import annotations

from aion.core.streamlog import (
    LATEST,
    MAX_PARTITION_KEY_LENGTH,
    MAX_READ_BYTES,
    MAX_RECORD_BYTES,
    MAX_RETENTION_SECONDS,
    MAX_SEQUENCE,
    MAX_TIMESTAMP,
    TRIM_HORIZON,
    AppendRecord,
    Lease,
    Position,
    PositionKind,
    ReadResult,
    SequencePastEnd,
    SequenceTrimmed,
    ShardDescription,
    ShardNotFound,
    StoredRecord,
    StreamDescription,
    StreamLog,
    StreamNotFound,
    StreamStatus,
    format_sequence,
    parse_sequence,
)

__all__ = [
    "LATEST",
    "MAX_PARTITION_KEY_LENGTH",
    "MAX_READ_BYTES",
    "MAX_RECORD_BYTES",
    "MAX_RETENTION_SECONDS",
    "MAX_SEQUENCE",
    "MAX_TIMESTAMP",
    "TRIM_HORIZON",
    "AppendRecord",
    "Lease",
    "Position",
    "PositionKind",
    "ReadResult",
    "SequencePastEnd",
    "SequenceTrimmed",
    "ShardDescription",
    "ShardNotFound",
    "StoredRecord",
    "StreamDescription",
    "StreamLog",
    "StreamNotFound",
    "StreamStatus",
    "format_sequence",
    "parse_sequence",
]
