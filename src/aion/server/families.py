"""The wire families the server speaks: what a request belongs to (decided from its method and
path by :func:`aion.server.ops.auth_rules.requirement_of`), and so the shape of its errors
(:func:`aion.server.errors.error_response`). No imports: the key rules, and through them the
CLI, load it without the web stack."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Family"]


class Family(StrEnum):
    """The wire API a request belongs to; it decides the shape of its errors."""

    KRONOS = "kronos"
    INGEST = "ingest"
    INITIALSTATE = "initialstate"
    SAMSARA = "samsara"
    STREAMS = "streams"
    KINESIS = "kinesis"
    TIMESERIES = "timeseries"
    DASHBOARD = "dashboard"
    OPERATIONS = "operations"
    OTHER = "other"
