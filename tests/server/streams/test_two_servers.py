"""Two live servers on one Redis or NATS streams engine, a stream deleted and made again
through one while the other writes: no acknowledged record is lost, and a put to the deleted
stream is a 404 (ResourceNotFoundException on Kinesis), never a 200 or a 500."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from aion.server.app import create_app
from aion.server.config import AionConfig, Route
from tests.support.backends import unique
from tests.support.live import serve
from tests.support.services import NATS_URL, REDIS_URL, require

pytestmark = pytest.mark.service

_KINESIS = {"Content-Type": "application/x-amz-json-1.1"}


@pytest.fixture(params=["redis", "nats"])
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[httpx.Client]]:
    """Two servers, each with a data directory of its own, sharing one streams engine."""
    engine: str = request.param
    require(engine)
    if engine == "redis":
        url = f"{REDIS_URL}?prefix={unique('aiontest:')}"
    else:
        url = f"{NATS_URL}?prefix={unique('AIONT')}"
    with ExitStack() as stack:
        clients = []
        for name in ("a", "b"):
            config = AionConfig(
                backends={"memory": "memory://"},
                routes=(Route("*", "", ("memory",), "memory"),),
                data_dir=tmp_path / name,
                streams=url,
                default_stream_shards=0,  # a put to a missing stream is a 404, not a create
            )
            base = stack.enter_context(serve(create_app(config)))
            clients.append(stack.enter_context(httpx.Client(base_url=base, timeout=30)))
        yield clients
        clients[0].delete("/v1/streams/s")


def _put(http: httpx.Client, i: int) -> httpx.Response:
    return http.post("/v1/streams/s/record", json={"partition_key": f"key-{i}", "data": i})


def _kinesis_put(http: httpx.Client) -> httpx.Response:
    body = {"StreamName": "s", "PartitionKey": "k", "Data": base64.b64encode(b"x").decode()}
    headers = {**_KINESIS, "X-Amz-Target": "Kinesis_20131202.PutRecord"}
    return http.post("/", json=body, headers=headers)


def _readable(http: httpx.Client) -> dict[tuple[int, str], int]:
    """Every record of the stream through ``http``: (shard, sequence) -> data."""
    described = http.get("/v1/streams/s")
    assert described.status_code == 200, described.text
    found = {}
    for shard in described.json()["shards"]:
        number = shard["shard"]
        got = http.post(f"/v1/streams/s/shards/{number}/iterator", json={"type": "TRIM_HORIZON"})
        iterator = got.json()["iterator"]
        while True:
            read = http.post("/v1/streams/s/read", json={"iterator": iterator}).json()
            if not read["records"]:
                break
            for record in read["records"]:
                found[(number, record["sequence"])] = record["data"]
            iterator = read["next_iterator"]
    return found


def test_no_acknowledged_record_is_lost_around_a_remake(servers: list[httpx.Client]) -> None:
    a, b = servers
    assert a.post("/v1/streams", json={"name": "s", "shards": 8}).status_code == 201
    assert _put(b, -1).status_code == 200  # b caches the eight shards
    assert a.delete("/v1/streams/s").status_code in (200, 204)
    refused = _put(b, -2)
    assert refused.status_code == 404, refused.text
    kinesis = _kinesis_put(b)
    assert kinesis.status_code == 404, kinesis.text
    assert kinesis.json()["__type"] == "ResourceNotFoundException"
    assert a.post("/v1/streams", json={"name": "s", "shards": 2}).status_code == 201
    acknowledged = {}
    for i in range(100):
        put = _put((a, b)[i % 2], i)
        assert put.status_code == 200, put.text
        acknowledged[(put.json()["shard"], put.json()["sequence"])] = i
    assert {shard for shard, _ in acknowledged} == {0, 1}
    for http in (a, b):
        assert _readable(http) == acknowledged  # 0 of 100 acknowledged records lost
