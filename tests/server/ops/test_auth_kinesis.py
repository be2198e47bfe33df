"""API keys on the Kinesis-compatible API through boto3: the key is the AWS access key id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from fastapi import FastAPI

from tests.support.keys import Keys
from tests.support.live import serve

pytestmark = pytest.mark.filterwarnings(
    # botocore warns about its own datetime.utcnow() use on some Python versions.
    "ignore:datetime.datetime.utcnow:DeprecationWarning"
)


@pytest.fixture
def url(app: FastAPI) -> Iterator[str]:
    with serve(app) as base:
        yield base


def _kinesis(url: str, access_key: str | None) -> Any:
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    if access_key is None:
        config = config.merge(Config(signature_version=UNSIGNED))
    return boto3.client(
        "kinesis",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=access_key or "unused",
        aws_secret_access_key="anything",  # not checked: the access key id is the key
        config=config,
    )


def _error(call: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response = info.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


@pytest.mark.parametrize("which", [None, "wrong", "revoked"])
def test_unknown_callers_are_unrecognized(url: str, keys: Keys, which: str | None) -> None:
    client = _kinesis(url, None if which is None else getattr(keys, which))
    assert _error(client.list_streams) == (401, "UnrecognizedClientException")


def test_right_key_reads_and_writes(url: str, keys: Keys) -> None:
    _kinesis(url, keys.admin).create_stream(StreamName="k", ShardCount=1)
    assert _kinesis(url, keys.read).list_streams()["StreamNames"] == ["k"]
    put = _kinesis(url, keys.write).put_record(StreamName="k", Data=b"x", PartitionKey="p")
    assert put["ShardId"] == "shardId-000000000000"


def test_missing_scope_is_access_denied(url: str, keys: Keys) -> None:
    assert _error(_kinesis(url, keys.write).list_streams) == (403, "AccessDeniedException")
    read = _kinesis(url, keys.read)
    status, code = _error(read.put_record, StreamName="k", Data=b"x", PartitionKey="p")
    assert (status, code) == (403, "AccessDeniedException")
    status, code = _error(_kinesis(url, keys.rw).create_stream, StreamName="k", ShardCount=1)
    assert (status, code) == (403, "AccessDeniedException")


def test_key_of_another_namespace_is_access_denied(url: str, keys: Keys) -> None:
    # Kinesis streams live in the server's default namespace.
    assert _error(_kinesis(url, keys.other).list_streams) == (403, "AccessDeniedException")
    assert _kinesis(url, keys.root).list_streams()["StreamNames"] == []
