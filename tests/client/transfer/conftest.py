"""A live Aion server on SQLite for the transfer tests, and a fast way to fill a stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aion.server.app import create_app
from aion.server.config import AionConfig
from tests.support.live import serve

SECOND = 10_000_000


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with serve(create_app(AionConfig.for_data_dir(tmp_path / "data"))) as base:
        yield base


def sample_events(count: int, first: int = 0) -> list[dict[str, Any]]:
    """Events of assorted shapes (nested, unicode, floats, nulls, big ints), one per second."""
    events: list[dict[str, Any]] = []
    for i in range(first, first + count):
        event: dict[str, Any] = {"@time": (i + 1) * SECOND, "n": i, "user": f"u{i % 97}"}
        if i % 3 == 0:
            event["nested"] = {"a": [1, 2.5, None, True], "s": 'héllo ✓ "quoted"\n'}
        if i % 5 == 0:
            event["big"] = 2**62 + i
            event["f"] = 0.1 * i
        events.append(event)
    return events


def seed(url: str, stream: str, events: list[dict[str, Any]], namespace: str | None = None) -> None:
    """Store events through the ingest endpoint, 10,000 a request."""
    path = f"/v1/ingest/{namespace}/{stream}" if namespace else f"/v1/ingest/{stream}"
    with httpx.Client(base_url=url, timeout=60) as http:
        for i in range(0, len(events), 10_000):
            answer = http.post(path, content=json.dumps(events[i : i + 10_000]))
            assert answer.status_code == 200, answer.text


def fetch(url: str, stream: str, namespace: str | None = None) -> list[dict[str, Any]]:
    """Every event of a stream, in id order."""
    from aion.client import Client

    with Client(url, namespace=namespace) as client:
        return list(client.get(stream, 0, 2**62))


def without_ids(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "@id"} for e in events]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]
