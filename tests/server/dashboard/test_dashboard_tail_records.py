"""The live tail shows a sharded stream's records decoded, not as base64 envelopes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import msgpack

from aion.server.app import create_app
from aion.server.config import AionConfig
from tests.support.live import serve


def _tail_backlog(http: httpx.Client, stream: str) -> list[dict[str, object]]:
    """The events of the tail's backlog (read until its ``ready`` message)."""
    events = []
    with http.stream("GET", "/ui/api/tail", params={"stream": stream}) as answer:
        assert answer.status_code == 200
        kind = None
        for line in answer.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
                if kind == "ready":
                    break
            elif line.startswith("data: ") and kind == "event":
                events.append(json.loads(line[6:]))
    return events


def test_tail_decodes_json_and_msgpack_records(tmp_path: Path) -> None:
    with (
        serve(create_app(AionConfig.for_data_dir(tmp_path))) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        records = [
            {"partition_key": "a", "data": {"n": 1}},
            {
                "partition_key": "a",
                "data_base64": base64.b64encode(msgpack.packb({"n": 2})).decode(),
            },
            {"partition_key": "a", "data_base64": base64.b64encode(b"\xff raw").decode()},
        ]
        put = http.post("/v1/streams/orders/records", json={"records": records})
        assert put.status_code == 200, put.text
        shown = _tail_backlog(http, "orders")
    # One batch shares one arrival time, so the three come in any order.
    decoded = [e["data"] for e in shown if "data" in e]
    assert sorted(decoded, key=str) == [{"n": 1}, {"n": 2}]
    [raw] = [e for e in shown if "data" not in e]
    assert raw["data_base64"] == base64.b64encode(b"\xff raw").decode()
    assert all(e["partition_key"] == "a" and "@id" in e and "@time" in e for e in shown)
