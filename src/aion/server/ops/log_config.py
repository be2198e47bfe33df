"""Log formats for ``aion serve``: text, or one JSON object per line, with the stdlib only.

:class:`JsonFormatter` writes ``{"ts", "level", "logger", "message", ...}`` plus every field
passed through ``extra=`` (the access log's ``method``, ``path``, ``status``...), and the
traceback as ``exc_info`` when there is one. :func:`log_config` is the ``logging.config``
dictionary handed to uvicorn, so each worker process configures itself the same way.
uvicorn's own access log is replaced by Aion's (``aion.access``), which carries the duration
and the namespace.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = ["ACCESS_LOGGER", "JsonFormatter", "LogFormat", "TextFormatter", "log_config"]

ACCESS_LOGGER = "aion.access"

# The attributes every LogRecord has; anything else on a record came in through ``extra=``
# (uvicorn's ``color_message`` is its message again, with terminal colour codes).
_STANDARD = frozenset(
    set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)))
    | {"message", "asctime", "color_message"}
)


class LogFormat(StrEnum):
    """``--log-format``."""

    TEXT = "text"
    JSON = "json"


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(_extras(record))
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value ...``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if extras and record.name != ACCESS_LOGGER:  # the access line already says it all
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


def log_config(log_format: LogFormat | str, level: str = "info") -> dict[str, Any]:
    """The ``logging.config.dictConfig`` for the server and uvicorn, in ``log_format``."""
    formatter = f"aion.server.ops.log_config.{'Json' if log_format == 'json' else 'Text'}Formatter"
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"aion": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "aion",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "aion": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }
