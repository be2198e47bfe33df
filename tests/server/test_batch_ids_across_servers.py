"""A batch retried against another server on the same store is stored once (every ingestion
API that takes ``X-Aion-Batch-Id``), and a retry to the same server still is."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fastapi.testclient import TestClient

from aion.server.app import create_app
from aion.server.config import AionConfig


def _count(client: TestClient, stream: str) -> int:
    body = {"stream": stream, "end_time": 2**60}
    answer = client.post("/1.0/events/get", json=body)
    return len([line for line in answer.content.split(b"\r\n") if line])


def test_a_retry_that_reaches_another_server_is_not_stored_twice(tmp_path: Path) -> None:
    config = AionConfig.for_data_dir(tmp_path)  # the embedded SQLite store, shared
    with TestClient(create_app(config)) as one, TestClient(create_app(config)) as two:
        headers = {"X-Aion-Batch-Id": "batch-7"}
        first = one.post("/v1/ingest/s", json=[{"n": 1}, {"n": 2}], headers=headers)
        assert first.json()["inserted"] == 2
        retry = two.post("/v1/ingest/s", json=[{"n": 1}, {"n": 2}], headers=headers)
        assert retry.status_code == 200
        assert retry.json()["duplicate"] is True and retry.json()["inserted"] == 0
        assert _count(one, "s") == 2

        is_headers = {"X-IS-AccessKey": "k", "X-IS-BucketKey": "b", "X-Aion-Batch-Id": "is-1"}
        for client in (one, two, one):
            sent = client.post("/api/events", json=[{"key": "k", "value": 1}], headers=is_headers)
            assert sent.status_code == 204
        assert _count(two, "b") == 1

        now = int(time.time() * 1000)
        event = {"timestamp": now, "sourceId": "a", "eventName": "e"}
        samsara = {
            "Content-Type": "application/json",
            "X-Samsara-publishedTimestamp": str(now),
            "X-Aion-Batch-Id": "sam-1",
        }
        for client in (two, one):
            sent = client.post("/v1/events", content=json.dumps([event]), headers=samsara)
            assert sent.status_code == 202, sent.text
        assert _count(one, "samsara") == 1
