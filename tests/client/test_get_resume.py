"""``get`` resumes strictly after the last id when the connection drops mid-stream."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from aion import Client
from aion.errors import RequestError

EVENTS = [{"@id": f"00000000-0000-1000-8000-00000000000{i}", "@time": i} for i in range(6)]


class DropsOnce(httpx.SyncByteStream):
    """Sends two events, then fails like a dropped connection."""

    def __iter__(self) -> Iterator[bytes]:
        yield b"".join(json.dumps(e).encode() + b"\r\n" for e in EVENTS[:2])
        raise httpx.ReadError("connection reset")


def test_get_resumes_after_the_last_id_with_the_remaining_limit() -> None:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if len(bodies) == 1:
            return httpx.Response(200, stream=DropsOnce())
        start = int(str(body["start_id"])[-1]) + 1
        rest = EVENTS[start : start + int(body["limit"])]  # type: ignore[call-overload]
        return httpx.Response(200, content=b"".join(json.dumps(e).encode() + b"\r\n" for e in rest))

    with Client("http://aion.test", transport=httpx.MockTransport(handler)) as client:
        got = list(client.get("s", 0, 100, limit=5))
    assert [e["@time"] for e in got] == [0, 1, 2, 3, 4]
    assert "start_id" not in bodies[0]
    assert bodies[1]["start_id"] == EVENTS[1]["@id"]
    assert bodies[1]["limit"] == 3


def test_get_gives_up_after_its_retries() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    transport = httpx.MockTransport(handler)
    with (
        Client("http://aion.test", transport=transport) as client,
        pytest.raises(RequestError, match="after 2 retries"),
    ):
        list(client.get("s", 0, 100, retries=2))
