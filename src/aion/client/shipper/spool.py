"""The local spool: batches that could not be sent, kept as JSON lines and replayed later.

One line per batch: ``{"batch_id": ..., "route": ..., "events": [...]}``. The batch id is kept so
a replay that races an earlier, half-acknowledged attempt is dropped by the server as a
duplicate. Appends are single ``write`` calls on a file opened in append mode, so several
processes may share a spool directory. To replay, a process first renames the spool file to a
name of its own, so two processes never replay the same lines. The claimed file stays on disk
until every batch read from it has been sent, refused for good or written to the spool again
(``release``), so a process killed mid-replay loses nothing: a claimed file left behind by a
process that died is claimed by the next start (and the server drops what it already has by
batch id).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path

import msgspec

from aion.client.shipper.buffer import Batch

__all__ = ["Spool"]

_logger = logging.getLogger("aion.client.shipper")
_CLAIMED = ".replaying"


class _SpoolLine(msgspec.Struct):
    batch_id: str
    route: str
    events: list[msgspec.Raw]


_decode_line = msgspec.json.Decoder(_SpoolLine).decode
_encode = msgspec.json.Encoder().encode


class Spool:
    """The spool file ``<directory>/<name>.jsonl`` and its claimed replays."""

    def __init__(self, directory: Path, name: str, max_bytes: int | None = None) -> None:
        self.directory = directory
        self.name = name
        self.max_bytes = max_bytes
        self.path = directory / f"{name}.jsonl"
        self._lock = threading.Lock()
        # Serialises this process's appends and claims: a claim must not rename the file
        # between an append's open and its write (the line would land in a file already read).
        self._file_lock = threading.Lock()
        self._claimed_in: dict[str, Path] = {}  # batch id → the claimed file it came from
        self._outstanding: dict[Path, set[str]] = {}  # claimed file → batch ids not settled

    def append(self, batches: Iterable[Batch]) -> list[Batch]:
        """Write batches at the end of the spool, in order, while the file stays within
        ``max_bytes``; return the batches that did not fit (they are not written).

        The cap is checked against the file's size when it is opened, so processes sharing a
        spool can together overshoot it by one write each. Raises OSError when the directory
        cannot be written.
        """
        kept = [b for b in batches if len(b)]
        if not kept:
            return []
        with self._file_lock:
            return self._append(kept)

    def _append(self, kept: list[Batch]) -> list[Batch]:
        self.directory.mkdir(parents=True, exist_ok=True)
        # One write of the whole chunk on an O_APPEND descriptor, so concurrent writers do not
        # interleave inside a line.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            room = None if self.max_bytes is None else self.max_bytes - os.fstat(fd).st_size
            lines: list[bytes] = []
            for number, batch in enumerate(kept):
                line = self._line(batch)
                if room is not None:
                    if len(line) > room:
                        refused = kept[number:]
                        break
                    room -= len(line)
                lines.append(line)
            else:
                refused = []
            view = memoryview(b"".join(lines))
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if lines:
                os.fsync(fd)
        finally:
            os.close(fd)
        return refused

    @staticmethod
    def _line(batch: Batch) -> bytes:
        return b"".join(
            (
                b'{"batch_id":',
                _encode(batch.batch_id),
                b',"route":',
                _encode(batch.route),
                b',"events":[',
                b",".join(batch.payloads),
                b"]}\n",
            )
        )

    def claim(self) -> list[Batch]:
        """Take every spooled batch (this name's file and abandoned claims) for replay.

        Each claimed file is removed once ``release`` has been called for all its batches.
        """
        if not self.directory.is_dir():
            return []
        claimed: list[Path] = []
        with self._file_lock:
            if self.path.exists():
                mine = self.directory / f"{self.name}.{os.getpid()}.{uuid.uuid4().hex}{_CLAIMED}"
                try:
                    self.path.rename(mine)
                    claimed.append(mine)
                except FileNotFoundError:
                    pass  # another process claimed it first
        for path in self.directory.glob(f"{self.name}.*{_CLAIMED}"):
            if path not in claimed and _abandoned(path, self.name):
                claimed.append(path)
        batches: list[Batch] = []
        for path in claimed:
            found = self._read(path)
            with self._lock:
                ids = {batch.batch_id for batch in found}
                for batch_id in ids:
                    self._claimed_in[batch_id] = path
                self._outstanding[path] = ids
            if not ids:
                self._forget(path)
            batches.extend(found)
        return batches

    def release(self, batch_id: str) -> None:
        """A replayed batch is settled (sent, refused for good, or spooled again): when it was
        the last one of its claimed file, the file goes."""
        with self._lock:
            path = self._claimed_in.pop(batch_id, None)
            if path is None:
                return
            left = self._outstanding.get(path)
            if left is None:
                return
            left.discard(batch_id)
            if left:
                return
        self._forget(path)

    def _forget(self, path: Path) -> None:
        with self._lock:
            self._outstanding.pop(path, None)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            _logger.error("cannot remove replayed spool file %s: %s", path, exc)

    @staticmethod
    def _read(path: Path) -> list[Batch]:
        batches: list[Batch] = []
        try:
            data = path.read_bytes()
        except OSError as exc:
            _logger.error("cannot read spool file %s: %s", path, exc)
            return batches
        for number, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                parsed = _decode_line(line)
            except msgspec.DecodeError as exc:
                # A torn last line from a crash mid-write; the rest of the file is still good.
                _logger.warning("skipping unreadable line %d of spool %s: %s", number, path, exc)
                continue
            payloads = tuple(bytes(raw) for raw in parsed.events)
            batches.append(Batch(parsed.batch_id, parsed.route, payloads, replayed=True))
        return batches


def _abandoned(path: Path, name: str) -> bool:
    """A claimed file whose owner process is gone (the pid is in its name)."""
    middle = path.name[len(name) + 1 : -len(_CLAIMED)]
    pid_text = middle.split(".", 1)[0]
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
