"""The pure API-key decisions: requirement per request, credentials, grants. No I/O."""

from __future__ import annotations

import base64

import pytest

from aion.errors import Forbidden
from aion.server.ops.auth_rules import (
    ALL_NAMESPACES,
    Family,
    Grant,
    Requirement,
    Scope,
    authorize,
    credential_of,
    effective_scopes,
    is_loopback,
    key_namespace,
    parse_scopes,
    requirement_of,
)

R, W, A = Scope.READ, Scope.WRITE, Scope.ADMIN
K = Family.KRONOS
IS, SAM = Family.INITIALSTATE, Family.SAMSARA


def need(
    method: str, path: str, query: dict[str, str] | None = None, target: str | None = None
) -> Requirement:
    headers = {"x-amz-target": f"Kinesis_20131202.{target}"} if target else {}
    return requirement_of(method, path, query or {}, headers, "default")


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/healthz", Requirement(Family.OPERATIONS, None, None)),
        ("GET", "/readyz", Requirement(Family.OPERATIONS, None, None)),
        ("OPTIONS", "/1.0/events/put", Requirement(Family.OPERATIONS, None, None)),
        ("GET", "/1.0/index", Requirement(K, R, None)),
        ("POST", "/1.0/events/put", Requirement(K, W, "default", True)),
        ("POST", "/1.0/events/get", Requirement(K, R, "default", True)),
        ("POST", "/1.0/events/delete", Requirement(K, A, "default", True)),
        ("POST", "/1.0/streams", Requirement(K, R, "default", True)),
        ("POST", "/1.0/streams/infer_schema", Requirement(K, R, "default", True)),
        ("POST", "/v1/ingest/ns1/s", Requirement(Family.INGEST, W, "ns1")),
        ("POST", "/v1/ingest/s", Requirement(Family.INGEST, W, "default")),
        ("POST", "/api/events", Requirement(IS, W, "default", namespace_from_key=True)),
        ("POST", "/api/buckets", Requirement(IS, W, "default", namespace_from_key=True)),
        ("POST", "/v1/events", Requirement(SAM, W, "default", namespace_from_key=True)),
        ("GET", "/v1/api-status", Requirement(SAM, R, "default", namespace_from_key=True)),
        ("GET", "/v1/streams", Requirement(Family.STREAMS, R, "default")),
        ("POST", "/v1/streams", Requirement(Family.STREAMS, A, "default")),
        ("GET", "/v1/streams/s", Requirement(Family.STREAMS, R, "default")),
        ("DELETE", "/v1/streams/s", Requirement(Family.STREAMS, A, "default")),
        ("POST", "/v1/streams/s/trim", Requirement(Family.STREAMS, A, "default")),
        ("POST", "/v1/streams/s/record", Requirement(Family.STREAMS, W, "default")),
        ("POST", "/v1/streams/s/records", Requirement(Family.STREAMS, W, "default")),
        ("POST", "/v1/streams/s/shards/0/iterator", Requirement(Family.STREAMS, R, "default")),
        ("POST", "/v1/streams/s/read", Requirement(Family.STREAMS, R, "default")),
        ("PUT", "/v1/streams/s/groups/g/checkpoints/0", Requirement(Family.STREAMS, R, "default")),
        ("PUT", "/v1/streams/s/groups/g/leases/0", Requirement(Family.STREAMS, R, "default")),
        ("GET", "/v1/timeseries", Requirement(Family.TIMESERIES, R, "default")),
        ("GET", "/v1/timeseries/t/series", Requirement(Family.TIMESERIES, R, "default")),
        ("POST", "/v1/timeseries/query", Requirement(Family.TIMESERIES, R, "default")),
        ("POST", "/v1/timeseries/t", Requirement(Family.TIMESERIES, W, "default")),
        ("DELETE", "/v1/timeseries/t", Requirement(Family.TIMESERIES, A, "default")),
        ("GET", "/ui", Requirement(Family.DASHBOARD, R, None)),
        ("GET", "/ui/api/namespaces", Requirement(Family.DASHBOARD, R, None)),
        ("GET", "/ui/api/streams", Requirement(Family.DASHBOARD, R, "default")),
        ("GET", "/metrics", Requirement(Family.OPERATIONS, R, ALL_NAMESPACES)),
        ("GET", "/openapi.json", Requirement(Family.OPERATIONS, R, None)),
        ("GET", "/docs", Requirement(Family.OPERATIONS, R, None)),
        ("GET", "/anything/else", Requirement(Family.OTHER, R, None)),
    ],
)
def test_requirement_of(method: str, path: str, expected: Requirement) -> None:
    assert need(method, path) == expected


def test_query_namespace_on_streams_timeseries_and_dashboard() -> None:
    for path in ["/v1/streams", "/v1/timeseries", "/ui/api/streams"]:
        assert need("GET", path, {"namespace": "ns2"}).namespace == "ns2"
    # The ingestion APIs of the shippers ignore a query namespace: they write to the key's
    # namespace, or the default one.
    assert need("POST", "/v1/events", {"namespace": "ns2"}).namespace == "default"


def test_a_key_for_one_namespace_writes_there_where_the_api_names_none() -> None:
    one = Grant("k1", "plant-7", frozenset({Scope.WRITE}))
    every = Grant("k2", ALL_NAMESPACES, frozenset({Scope.ADMIN}))
    assert key_namespace(one, "default") == "plant-7"
    assert key_namespace(every, "default") == "default"


@pytest.mark.parametrize(
    ("operation", "scope"),
    [
        ("CreateStream", A),
        ("DeleteStream", A),
        ("PutRecord", W),
        ("PutRecords", W),
        ("GetRecords", R),
        ("GetShardIterator", R),
        ("ListStreams", R),
        ("DescribeStream", R),
        ("NoSuchOperation", R),
    ],
)
def test_kinesis_scopes(operation: str, scope: Scope) -> None:
    expected = Requirement(Family.KINESIS, scope, "default", operation=operation)
    assert need("POST", "/", target=operation) == expected


def test_credentials() -> None:
    other = Family.STREAMS
    assert credential_of(other, {"authorization": "Bearer tok"}, {}) == "tok"
    assert credential_of(other, {"authorization": "bearer  tok "}, {}) == "tok"
    basic = base64.b64encode(b"user:tok").decode()
    assert credential_of(other, {"authorization": f"Basic {basic}"}, {}) == "tok"
    assert credential_of(other, {"authorization": "Basic !!!"}, {}) is None
    sigv4 = (
        "AWS4-HMAC-SHA256 Credential=aion_0123456789ab_s3cr-t/20250101/us-east-1/kinesis/"
        "aws4_request, SignedHeaders=host, Signature=abc"
    )
    assert credential_of(Family.KINESIS, {"authorization": sigv4}, {}) == "aion_0123456789ab_s3cr-t"
    assert credential_of(other, {}, {}) is None
    assert credential_of(other, {"authorization": "Token x"}, {}) is None
    initialstate = Family.INITIALSTATE
    assert credential_of(initialstate, {"x-is-accesskey": "isk"}, {}) == "isk"
    assert credential_of(initialstate, {}, {"accessKey": "isq"}) == "isq"
    assert credential_of(initialstate, {"authorization": "Bearer b"}, {}) == "b"
    # Elsewhere X-IS-AccessKey means nothing.
    assert credential_of(other, {"x-is-accesskey": "isk"}, {}) is None


def test_authorize_scope_and_namespace() -> None:
    reader = Grant("k1", "ns", frozenset({R}))
    authorize(reader, R, "ns")
    authorize(reader, R, None)
    with pytest.raises(Forbidden, match="needs write"):
        authorize(reader, W, "ns")
    with pytest.raises(Forbidden, match="not 'other'"):
        authorize(reader, R, "other")
    with pytest.raises(Forbidden, match="every namespace"):
        authorize(reader, R, ALL_NAMESPACES)
    admin = Grant("k2", "ns", frozenset({A}))
    for scope in Scope:
        authorize(admin, scope, "ns")
    root = Grant("k3", ALL_NAMESPACES, frozenset({R}))
    authorize(root, R, "anything")
    authorize(root, R, ALL_NAMESPACES)
    writer = Grant("k4", "ns", frozenset({W}))
    with pytest.raises(Forbidden):
        authorize(writer, R, "ns")  # write does not imply read


def test_scopes() -> None:
    assert parse_scopes("read, WRITE") == frozenset({R, W})
    assert effective_scopes(frozenset({A})) == frozenset({R, W, A})
    assert effective_scopes(frozenset({W})) == frozenset({W})
    for bad in ["", " , ", "read,root"]:
        with pytest.raises(ValueError):
            parse_scopes(bad)


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("127.1.2.3")
    assert is_loopback("::1")
    assert is_loopback("[::1]")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("::")
    assert not is_loopback("192.168.1.5")
    assert not is_loopback("example.com")
