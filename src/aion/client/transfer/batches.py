"""Import batch planning, with no I/O: checking each event, cutting batches, naming them.

Events travel as the JSON bytes read from the file (not decoded and re-encoded), so what is
stored is what the file says. Each is still decoded once here to refuse, with its line or row
number, what the server would refuse for the whole batch: a line that is not JSON or nests
deeper than the server's limit, a value that is not an object, an ``@time`` that is not an
integer.

A batch closes at ``batch_size`` events or ``max_bytes`` bytes, whichever comes first. Its id
is derived from the file's identity, its number and its own bytes, so the same batch of the same
file always carries the same ``X-Aion-Batch-Id`` and a server stores it once however often it is
sent; a different batch never shares an id with it, even if the file changed in between.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import msgspec

from aion.core.events import TIMESTAMP_FIELD
from aion.core.jsonbody import MAX_JSON_DEPTH, json_depth_within
from aion.errors import InvalidRecord, ValidationError

__all__ = [
    "DEFAULT_BATCH_BYTES",
    "DEFAULT_BATCH_SIZE",
    "Batch",
    "BatchPlanner",
    "InvalidRecord",
    "batch_id",
    "check_event",
]

DEFAULT_BATCH_SIZE = 5000
# Well under the server's default 16 MiB body limit, so one batch is one bounded request.
DEFAULT_BATCH_BYTES = 4 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_decode = msgspec.json.Decoder().decode


def check_event(raw: bytes, unit: str, number: int) -> bytes | None:
    """The event's JSON bytes, stripped; None for a blank line; InvalidRecord otherwise."""
    text = raw.strip()
    if number == 1 and text.startswith(_BOM):
        text = text[len(_BOM) :].lstrip()
    if not text:
        return None
    too_deep = f"nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"
    try:
        event = _decode(text)
    except msgspec.DecodeError as exc:
        raise InvalidRecord(f"not valid JSON ({exc})", unit, number) from None
    except RecursionError:
        raise InvalidRecord(too_deep, unit, number) from None
    if not json_depth_within(text, MAX_JSON_DEPTH):
        raise InvalidRecord(too_deep, unit, number)
    if not isinstance(event, dict):
        raise InvalidRecord(
            f"an event must be a JSON object, not {type(event).__name__}", unit, number
        )
    stamp = event.get(TIMESTAMP_FIELD)
    if stamp is not None and (isinstance(stamp, bool) or not isinstance(stamp, int)):
        raise InvalidRecord(
            f"@time must be an integer count of 100 ns ticks, not {stamp!r}", unit, number
        )
    return text


def batch_id(file_key: str, number: int, body: bytes) -> str:
    """The ``X-Aion-Batch-Id`` of batch ``number`` of a file (at most 128 characters)."""
    digest = hashlib.sha256(f"{file_key}:{number}:".encode())
    digest.update(body)
    return f"import-{file_key}-{number}-{digest.hexdigest()[:32]}"


@dataclass(slots=True)
class Batch:
    """Events to send together, and where the file stands once they are acknowledged."""

    number: int
    events: list[bytes] = field(default_factory=list)
    nbytes: int = 0
    end_offset: int = 0  # bytes (JSON lines) or rows (Parquet) consumed through this batch
    end_line: int = 0  # lines (JSON lines) or rows (Parquet) consumed through this batch

    def body(self) -> bytes:
        """The JSON array the ingest endpoint takes."""
        return b"[" + b",".join(self.events) + b"]"

    def __len__(self) -> int:
        return len(self.events)


class BatchPlanner:
    """Cuts a sequence of checked events into batches, numbering them from ``first_number``."""

    def __init__(
        self,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_bytes: int = DEFAULT_BATCH_BYTES,
        first_number: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValidationError("the batch size must be at least 1", "batch_size")
        self.batch_size = batch_size
        self.max_bytes = max_bytes
        self._current = Batch(first_number)

    def add(self, event: bytes | None, end_offset: int, end_line: int) -> Batch | None:
        """Add one event (None for a skipped blank line) that ends at ``end_offset`` and
        ``end_line``; the batch it completes, if any."""
        batch = self._current
        if event is not None:
            if batch.events and batch.nbytes + len(event) + 1 > self.max_bytes:
                # Close before this event: a batch never grows past max_bytes unless one event
                # alone does, and then it travels alone.
                full = self._rotate()
                self._current.events.append(event)
                self._current.nbytes = len(event) + 1
                self._current.end_offset, self._current.end_line = end_offset, end_line
                return full
            batch.events.append(event)
            batch.nbytes += len(event) + 1
        batch.end_offset, batch.end_line = end_offset, end_line
        if len(batch.events) >= self.batch_size:
            return self._rotate()
        return None

    def finish(self) -> Batch | None:
        """The last, partly filled batch, if it holds anything."""
        batch = self._current
        return batch if batch.events else None

    def _rotate(self) -> Batch:
        full = self._current
        self._current = Batch(full.number + 1, end_offset=full.end_offset, end_line=full.end_line)
        return full
