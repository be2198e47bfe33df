from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aion import AsyncClient, Client
from aion.core.time import datetime_to_kronos_time
from aion.errors import RequestError, ResponseError


def test_put_get_delete_streams_schema(server_url: str) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with Client(server_url) as aion:
        result = aion.put(
            {"clicks": [{"user": i, "@time": start + timedelta(seconds=i)} for i in range(5)]}
        )
        assert result["clicks"]["memory"]["num_inserted"] == 5
        events = list(aion.get("clicks", start, start + timedelta(seconds=2)))
        assert [e["user"] for e in events] == [0, 1, 2]
        assert events[0]["@time"] == datetime_to_kronos_time(start)
        desc = list(aion.get("clicks", start, "2024-01-02T00:00:00Z", order="descending", limit=2))
        assert [e["user"] for e in desc] == [4, 3]
        assert aion.streams() == ["clicks"]
        assert aion.infer_schema("clicks")["schema"]["properties"]["user"] == {"type": "integer"}
        deleted = aion.delete("clicks", start, start + timedelta(seconds=1))
        assert deleted["clicks"]["memory"]["num_deleted"] == 2
        assert len(list(aion.get("clicks", start, start + timedelta(days=1)))) == 3
        assert aion.index()["@success"] is True


def test_partial_success_raises_with_the_body(server_url: str) -> None:
    with Client(server_url) as aion:
        with pytest.raises(ResponseError) as info:
            aion.put({"s": [{"a": 1}, {"@time": 1.5}]})
        assert info.value.body["s"]["memory"]["num_inserted"] == 1
        assert "@time" in str(info.value)
        answer = aion.put({"s": [{"@time": 1.5}]}, require_success=False)
        assert answer["@success"] is False


def test_bad_requests_raise_response_error(server_url: str) -> None:
    with Client(server_url) as aion:
        with pytest.raises(ResponseError) as info:
            list(aion.get("bad name", 0, 10))
        assert info.value.status == 400
        with pytest.raises(ResponseError):
            aion.put({"s": [{"a": 1}]}, namespace="not-allowed")


def test_unreachable_server_is_a_request_error() -> None:
    with Client("http://127.0.0.1:9", timeout=1) as aion, pytest.raises(RequestError):
        aion.index()


def test_get_streams_more_than_a_page(server_url: str) -> None:
    with Client(server_url) as aion:
        aion.put({"big": [{"@time": i, "pad": "x" * 100} for i in range(3000)]})
        assert sum(1 for _ in aion.get("big", 0, 10**6)) == 3000


async def test_async_client(server_url: str) -> None:
    async with AsyncClient(server_url, namespace="namespace1") as aion:
        await aion.put({"s": [{"@time": t} for t in range(10)]})
        got = [e["@time"] async for e in aion.get("s", 2, 4)]
        assert got == [2, 3, 4]
        assert await aion.streams() == ["s"]
        assert (await aion.delete("s", 0, 100))["s"]["memory"]["num_deleted"] == 10
        assert (await aion.infer_schema("s"))["stream"] == "s"
        assert (await aion.index())["@success"]
