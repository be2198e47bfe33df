"""schemathesis against a real server: every documented operation, with requests generated
from the OpenAPI document, must never answer 5xx and must answer only documented statuses,
media types and bodies.

Three runs, each on a fresh server with a temporary data directory:

- ``open``: no API key exists, so every request is served;
- ``keyed``: keys exist and every request carries an admin key for every namespace, so the
  authenticated paths are the ones exercised;
- ``locked``: keys exist and requests carry none (or schemathesis's own made-up ones), so the
  documented 401s (in each family's shape) are what is checked.

Generation is derandomized (the same requests on every run) and bounded by ``max_examples``
per operation. Half of the generated requests name a stream that exists (``fuzz``, with
records and events in it), so reads, iterators and consumer groups get past "no such stream".
The pytest plugin of schemathesis does not run under this pytest, so the operations are driven
through its Python API: one Hypothesis test per operation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from aion.server.app import create_app
from aion.server.config import AionConfig
from aion.server.ops.auth_rules import Scope
from aion.server.ops.keys import KeyStore
from tests.support.live import running

KINESIS_JSON = "application/x-amz-json-1.1"
STREAM = "fuzz"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Per operation (~60 of them): about a minute for the three runs on an idle 2-core machine.
EXAMPLES = {"open": 20, "keyed": 8, "locked": 2}

# Kinesis speaks JSON under its own media type, both ways.
schemathesis.serializer.alias(KINESIS_JSON, "application/json")


@schemathesis.deserializer(KINESIS_JSON)
def _kinesis_json(ctx: schemathesis.DeserializationContext, response: Any) -> Any:
    return response.json()


@dataclass(frozen=True)
class Target:
    """A served app and the headers every request of a run carries."""

    url: str
    document: dict[str, Any]
    headers: dict[str, str]


def _seed(url: str, headers: dict[str, str]) -> None:
    """A stream with records (native streams and Kinesis) and events (Kronos, dashboard)."""
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        created = client.post("/v1/streams", json={"name": STREAM, "shards": 2})
        assert created.status_code == 201, created.text
        records = [{"partition_key": f"k{i}", "data": {"n": i}} for i in range(4)]
        put = client.post(f"/v1/streams/{STREAM}/records", json={"records": records})
        assert put.status_code == 200, put.text
        events = [{"key": "temperature", "value": 20 + i, "n": i} for i in range(4)]
        stored = client.post("/1.0/events/put", json={"events": {STREAM: events}})
        assert stored.status_code == 200, stored.text


@pytest.fixture(params=["open", "keyed", "locked"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    run: str = request.param
    headers: dict[str, str] = {}
    if run != "open":
        _, token = KeyStore(tmp_path).create("*", frozenset({Scope.ADMIN}))
        admin = {"Authorization": f"Bearer {token}", "X-IS-AccessKey": token}
        if run == "keyed":
            headers = admin
    else:
        admin = {}
    app = create_app(AionConfig.for_data_dir(tmp_path))
    with running(app) as server:
        _seed(server.url, admin)
        yield Target(server.url, app.openapi(), headers)


def _pinned(case: Any) -> Any:
    """The same request naming the stream that exists (but never deleting it)."""
    target = (case.headers or {}).get("X-Amz-Target", "")
    if case.method.upper() == "DELETE" or target.endswith(".DeleteStream"):
        return case
    if case.path_parameters and "stream" in case.path_parameters:
        case.path_parameters["stream"] = STREAM
    if case.query and "stream" in case.query:
        case.query["stream"] = STREAM
    if isinstance(case.body, dict) and target:
        case.body["StreamName"] = STREAM
        case.body.pop("StreamARN", None)
        if "ShardId" in case.body:
            case.body["ShardId"] = "shardId-000000000000"
    elif isinstance(case.body, dict) and "stream" in case.body:
        case.body["stream"] = STREAM
    return case


def _fuzz(operation: Any, headers: dict[str, str], examples: int) -> Callable[[], None]:
    generated = operation.as_strategy(headers=dict(headers))
    strategy = st.one_of(generated, generated.map(_pinned))

    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        # A redirect is an answer of its own (the dashboard's /ui), not a hop to follow.
        case.call_and_validate(allow_redirects=False, checks=CHECKS, timeout=60)

    return run


@pytest.mark.timeout(600)
def test_every_operation_answers_as_documented(
    target: Target, request: pytest.FixtureRequest
) -> None:
    run = request.node.callspec.params["target"]
    schema = schemathesis.openapi.from_dict(target.document, config=schemathesis.Config())
    schema.config.update(base_url=target.url)
    failures: list[str] = []
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, target.headers, EXAMPLES[run])()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}:\n{exc}")
        tested += 1
    assert tested == sum(
        1 for item in target.document["paths"].values() for m in item if m != "parameters"
    )
    assert not failures, f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures)
