"""Names the server itself writes under, shared by the family that writes and the one that reads.

``BUCKET_NAMES_STREAM`` holds one event per Initial State bucket naming: the ingest family
appends ``{"bucketKey", "bucketName", "stream"}`` there when ``POST /api/buckets`` names a
bucket, and the dashboard reads it to show bucket names beside their keys. No imports."""

from __future__ import annotations

__all__ = ["BUCKET_NAMES_STREAM"]

BUCKET_NAMES_STREAM = "initialstate.buckets"
