"""``Content-Encoding: gzip`` bodies: several members read whole, anything else refused, and
the inflated size bounded."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aion.errors import ValidationError
from aion.server.app import create_app
from aion.server.config import AionConfig, Route
from aion.server.ingest.sink import BodyTooLarge, gunzip

LIMIT = 16_384


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    config = AionConfig(
        backends={"memory": "memory://"},
        routes=(Route("*", "", ("memory",), "memory"),),
        data_dir=tmp_path,
        max_body_bytes=LIMIT,
    )
    with TestClient(create_app(config)) as c:
        yield c


def post(client: TestClient, body: bytes, encoding: str = "gzip") -> tuple[int, str]:
    r = client.post(
        "/v1/ingest/gz",
        content=body,
        headers={"Content-Type": "application/json", "Content-Encoding": encoding},
    )
    return r.status_code, r.text


# The pure decoder


def test_members_in_a_row_are_read_whole() -> None:
    body = gzip.compress(b"first, ") + gzip.compress(b"") + gzip.compress(b"second")
    assert gunzip(body, LIMIT) == b"first, second"


def test_an_empty_body_is_empty() -> None:
    assert gunzip(b"", LIMIT) == b""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (gzip.compress(b"data") + b"trailing junk", "13 bytes after its last member"),
        (gzip.compress(b"data") + b"\0\0\0\0", "4 bytes after its last member"),
        (gzip.compress(b"data")[:-3], "truncated"),
        (gzip.compress(b"data") + gzip.compress(b"more")[:12], "truncated"),
        (b"plain text", "not gzip"),
        (b"\x1f\x8b" + b"\xff" * 20, "corrupt"),
    ],
)
def test_anything_but_whole_members_is_refused_naming_the_body(body: bytes, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        gunzip(body, LIMIT)
    assert caught.value.field == "body"
    assert not isinstance(caught.value, BodyTooLarge)


def test_inflation_is_bounded_across_members() -> None:
    assert len(gunzip(gzip.compress(b"x" * LIMIT), LIMIT)) == LIMIT
    one_bomb = gzip.compress(b"\0" * 50_000_000)  # 50 MB inflated from ~50 kB
    with pytest.raises(BodyTooLarge, match=f"decompressed body is over {LIMIT} bytes"):
        gunzip(one_bomb, LIMIT)
    # Each member under the limit, all of them over it.
    members = gzip.compress(b"y" * (LIMIT // 2 + 1)) * 2
    with pytest.raises(BodyTooLarge):
        gunzip(members, LIMIT)


# Over HTTP


def test_a_multi_member_body_is_stored_whole(client: TestClient) -> None:
    body = gzip.compress(b'[{"n": 1},') + gzip.compress(b'{"n": 2}]')  # cat a.gz b.gz
    code, text = post(client, body)
    assert code == 200, text
    assert '"inserted":2' in text


def test_x_gzip_is_gzip(client: TestClient) -> None:
    code, text = post(client, gzip.compress(b'[{"n": 1}]'), encoding="x-gzip")
    assert code == 200, text


def test_garbage_after_a_member_is_400(client: TestClient) -> None:
    code, text = post(client, gzip.compress(b'[{"n": 1}]') + b"garbage")
    assert code == 400
    assert "after its last member that are not gzip" in text


def test_an_unknown_encoding_is_400_naming_it(client: TestClient) -> None:
    code, text = post(client, b'[{"n": 1}]', encoding="br")
    assert code == 400
    assert "unsupported Content-Encoding 'br'" in text


def test_a_gzip_bomb_is_413(client: TestClient) -> None:
    code, text = post(client, gzip.compress(b"[" + b" " * 10_000_000 + b"]"))
    assert code == 413
    assert f"decompressed body is over {LIMIT} bytes" in text
