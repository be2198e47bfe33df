"""The few file steps a resumable transfer relies on: durable atomic replacement, reading state
files, and digests that tell whether a file is still the one a state describes.

A checkpoint writes its data, ``fsync``s it, and only then replaces the state file, so a state
never points past data that a crash could lose.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import BinaryIO

from aion.client.transfer.plan import ExportState, ImportState, S, decode_state, encode_state
from aion.errors import ValidationError

__all__ = [
    "HEAD_BYTES",
    "discard",
    "file_key",
    "fsync_directory",
    "prefix_hash",
    "read_state",
    "sync_file",
    "write_state",
]

HEAD_BYTES = 1 << 16
_CHUNK = 1 << 20


def fsync_directory(path: str | Path) -> None:
    """Make a rename or a new file in ``path`` durable (a no-op where directories cannot be
    opened, as on Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sync_file(handle: BinaryIO) -> None:
    """Flush Python's buffer and the kernel's to the disk."""
    handle.flush()
    os.fsync(handle.fileno())


def write_state(path: str, state: ExportState | ImportState) -> None:
    """Replace the state file at ``path`` atomically and durably."""
    target = Path(path)
    temporary = target.with_name(target.name + ".tmp")
    with temporary.open("wb") as handle:
        handle.write(encode_state(state))
        sync_file(handle)
    temporary.replace(target)
    fsync_directory(target.parent)


def read_state(path: str, kind: type[S]) -> S | None:
    """The state at ``path``, or None when there is none."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValidationError(f"cannot read the state file {path}: {exc}", "state") from exc
    return decode_state(data, kind, path)


def discard(*paths: str) -> None:
    """Remove files or directories left by an earlier run; missing ones are fine."""
    for path in paths:
        target = Path(path)
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
        Path(path + ".tmp").unlink(missing_ok=True)


def prefix_hash(handle: BinaryIO, length: int) -> hashlib._Hash:
    """A running SHA-256 fed the first ``length`` bytes of an open file (read in 1 MiB
    chunks); ``handle`` is left at ``length``, ready to read on."""
    handle.seek(0)
    digest = hashlib.sha256()
    remaining = length
    while remaining > 0:
        chunk = handle.read(min(_CHUNK, remaining))
        if not chunk:
            break
        digest.update(chunk)
        remaining -= len(chunk)
    return digest


def file_key(handle: BinaryIO, size: int, *, tail: bool) -> str:
    """A short identity of a file: its size and the digest of its first (or, for Parquet, whose
    footer is at the end, its last) 64 KiB. Batch ids are derived from it."""
    handle.seek(max(0, size - HEAD_BYTES) if tail else 0)
    digest = hashlib.sha256(str(size).encode() + b":" + handle.read(HEAD_BYTES))
    handle.seek(0)
    return digest.hexdigest()[:24]
