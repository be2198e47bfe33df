"""What an export or an import is, and how its progress is recorded, with no I/O.

An interrupted transfer leaves a small JSON *state file* beside its data. Re-running the same
command reads it back and continues; a state written by a different command (another stream,
namespace, server, format, time range or batch size) is refused rather than silently mixed in.

File names, for ``--output FILE``:

- ``FILE.partial``        the export being written (JSON lines), or the merged Parquet file
- ``FILE.partial.d/``     Parquet only: one complete Parquet *segment* per checkpoint
- ``FILE.partial.state``  the export's state: last exported ``@id``, counts, byte length

and for ``aion import FILE``: ``FILE.import.state`` (or ``--state PATH``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePath
from typing import Literal, TypeVar

import msgspec

from aion.errors import ValidationError

__all__ = [
    "STATE_VERSION",
    "ExportPaths",
    "ExportState",
    "ImportState",
    "TransferFormat",
    "TransferProgress",
    "decode_state",
    "differences",
    "encode_state",
    "export_paths",
    "guess_format",
    "import_state_path",
]

STATE_VERSION = 1
STDIO = "-"


class TransferFormat(StrEnum):
    """The file formats of ``aion export`` and ``aion import``."""

    JSONL = "jsonl"
    PARQUET = "parquet"


_SUFFIXES = {
    ".jsonl": TransferFormat.JSONL,
    ".ndjson": TransferFormat.JSONL,
    ".json": TransferFormat.JSONL,
    ".parquet": TransferFormat.PARQUET,
    ".pq": TransferFormat.PARQUET,
}


def guess_format(path: str, given: str | None) -> TransferFormat:
    """The format named by ``--format``, else the one the file name's suffix implies (JSON lines
    for standard input/output and unknown suffixes, the format every tool can read)."""
    if given is not None:
        try:
            return TransferFormat(given.lower())
        except ValueError:
            choices = ", ".join(f.value for f in TransferFormat)
            raise ValidationError(
                f"unknown format {given!r}; choose one of: {choices}", "format"
            ) from None
    if path == STDIO:
        return TransferFormat.JSONL
    name = PurePath(path).name.lower()
    for suffix in (".gz", ""):  # a compressed name still says what it holds
        stem = name.removesuffix(suffix) if suffix else name
        fmt = _SUFFIXES.get(PurePath(stem).suffix)
        if fmt is not None:
            return fmt
    return TransferFormat.JSONL


@dataclass(frozen=True, slots=True)
class ExportPaths:
    """Where an export to ``output`` keeps its work until it is complete."""

    output: str
    partial: str
    state: str
    segments: str


def export_paths(output: str) -> ExportPaths:
    """The sidecar names of an export to ``output``."""
    partial = output + ".partial"
    return ExportPaths(output, partial, partial + ".state", partial + ".d")


def import_state_path(source: str) -> str:
    """The default state file of an import from ``source``."""
    return source + ".import.state"


class ExportState(msgspec.Struct, frozen=True, kw_only=True):
    """What an export has durably written. Everything up to ``last_id`` (inclusive) is in the
    partial output: the first ``bytes`` bytes of ``FILE.partial`` (JSON lines) or the first
    ``segments`` segment files (Parquet)."""

    kind: Literal["export"] = "export"
    version: int = STATE_VERSION
    url: str
    namespace: str | None
    stream: str
    format: TransferFormat
    start: str | None  # the option as typed: relative times resolve once, at the first run
    end: str | None
    start_time: int
    end_time: int
    last_id: str | None = None
    events: int = 0
    bytes: int = 0
    segments: int = 0

    def identity(self) -> dict[str, object]:
        """The fields a re-run must repeat to continue this export."""
        return {
            "url": self.url, "namespace": self.namespace, "stream": self.stream,
            "format": self.format.value, "start": self.start, "end": self.end,
        }  # fmt: skip


class ImportState(msgspec.Struct, frozen=True, kw_only=True):
    """What an import has had acknowledged: the first ``batches`` batches, holding ``events``
    events, which end at byte ``offset`` and line ``line`` of a JSON-lines file, or at row
    ``offset`` of a Parquet file. ``prefix_sha256`` is the digest of the file's first
    ``offset`` bytes (JSON lines), so a file edited before that point is not resumed."""

    kind: Literal["import"] = "import"
    version: int = STATE_VERSION
    url: str
    namespace: str | None
    stream: str
    format: TransferFormat
    batch_size: int
    file_key: str
    batches: int = 0
    events: int = 0
    duplicates: int = 0
    offset: int = 0
    line: int = 0
    prefix_sha256: str = ""

    def identity(self) -> dict[str, object]:
        """The fields a re-run must repeat to continue this import."""
        return {
            "url": self.url, "namespace": self.namespace, "stream": self.stream,
            "format": self.format.value, "batch_size": self.batch_size,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class TransferProgress:
    """A progress report: events done, and the position in the file when it is known
    (``position`` of ``total`` bytes for JSON lines, rows for Parquet)."""

    events: int
    position: int = 0
    total: int | None = None


_encoder = msgspec.json.Encoder()
S = TypeVar("S", ExportState, ImportState)


def encode_state(state: ExportState | ImportState) -> bytes:
    """The state file's bytes (one JSON object)."""
    return _encoder.encode(state) + b"\n"


def decode_state(data: bytes, kind: type[S], where: str) -> S:
    """A state read back; a damaged or foreign file is a ValidationError naming ``where``."""
    try:
        state = msgspec.json.decode(data, type=kind)
    except msgspec.DecodeError as exc:
        raise ValidationError(
            f"{where} is not a state file of this Aion version ({exc}); "
            "re-run with --restart to start over",
            "state",
        ) from exc
    if state.version != STATE_VERSION:
        raise ValidationError(
            f"{where} has state version {state.version}, this Aion writes {STATE_VERSION}; "
            "re-run with --restart to start over",
            "state",
        )
    return state


def differences(stored: dict[str, object], wanted: dict[str, object]) -> list[str]:
    """``name: stored → wanted`` for each field where a re-run differs from the state."""
    return [
        f"{name}: {stored.get(name)!r} → {wanted.get(name)!r}"
        for name in sorted(set(stored) | set(wanted))
        if stored.get(name) != wanted.get(name)
    ]
