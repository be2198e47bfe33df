"""Export a stream to a file and import a file into a stream: JSON lines or Parquet, streamed
both ways in bounded memory, resumable after an interruption.

``plan`` and ``batches`` hold the decisions with no I/O (state files, formats, batch cutting and
ids); ``exporter`` and ``importer`` drive them over ``aion.Client`` and the ingest endpoint;
``parquet`` is the only module that imports the optional ``pyarrow``.
"""

from aion.client.transfer.batches import DEFAULT_BATCH_SIZE, InvalidRecord
from aion.client.transfer.exporter import DEFAULT_CHECKPOINT_EVENTS, ExportResult, export_stream
from aion.client.transfer.importer import ImportResult, import_file
from aion.client.transfer.ingest import IngestSender
from aion.client.transfer.plan import TransferFormat, TransferProgress, guess_format

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CHECKPOINT_EVENTS",
    "ExportResult",
    "ImportResult",
    "IngestSender",
    "InvalidRecord",
    "TransferFormat",
    "TransferProgress",
    "export_stream",
    "guess_format",
    "import_file",
]
