"""The clients' shared core without sockets: the settings, the one error decoder, the resume
rule of ``get`` and the timeseries requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from aion import AsyncClient, Client, ConfigurationError, RequestError, ResponseError
from aion.client.events_calls import EventCalls
from aion.client.http import Call, HttpSettings, answer, decode_error
from aion.client.streams_calls import StreamCalls, streams_error
from aion.client.timeseries_calls import TimeseriesCalls, time_param
from aion.errors import NotFound, SequenceTrimmed, ValidationError


def _json(body: object) -> bytes:
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        # Kronos and the ingest endpoints.
        ({"@errors": ["stream name is bad"], "@success": False}, "stream name is bad", None),
        # Aion's native APIs (streams, timeseries, dashboard).
        (
            {"error": {"type": "ValidationError", "message": "too many", "field": "steps"}},
            "too many (steps)",
            "steps",
        ),
        # Kinesis.
        (
            {"__type": "UnrecognizedClientException", "message": "no key"},
            "UnrecognizedClientException: no key",
            None,
        ),
        # Initial State.
        (
            {"message": {"error": {"type": "FORBIDDEN", "message": "other bucket"}}},
            "other bucket",
            None,
        ),
        # Samsara.
        ({"status": "ERROR", "message": "bad event"}, "bad event", None),
    ],
)
def test_every_error_shape_decodes_to_a_response_error(
    body: dict[str, object], message: str, field: str | None
) -> None:
    error = decode_error(400, _json(body))
    assert str(error) == f"{message} [HTTP 400]"
    assert (error.status, error.body, error.field) == (400, body, field)


def test_an_error_body_that_is_not_json_is_shown_cut() -> None:
    error = decode_error(502, b"<html>" + b"x" * 500)
    assert str(error) == "HTTP 502: <html>" + "x" * 194
    assert error.body.startswith("<html>")
    assert str(decode_error(500, b"")) == "HTTP 500: "


def test_answer_reads_success_conflict_and_refusals() -> None:
    call: Call[int] = Call("GET", "/x", lambda raw: raw["n"], conflict=lambda: -1)
    assert answer(call, 200, b'{"n": 3}') == 3
    assert answer(call, 409, b"") == -1
    with pytest.raises(ResponseError, match="unexpected answer"):
        answer(call, 200, b'["not", "an", "object"]')
    with pytest.raises(ResponseError) as partial:
        answer(call, 200, _json({"@success": False, "@errors": ["@time is bad"]}))
    assert "@time is bad" in str(partial.value)


def test_the_streams_api_raises_typed_errors() -> None:
    def native(status: int, kind: str, field: str | None = None) -> Exception:
        body = {"error": {"type": kind, "message": "m", "field": field}}
        return streams_error(decode_error(status, _json(body)))

    trimmed = native(400, "SequenceTrimmed", "position")
    assert isinstance(trimmed, SequenceTrimmed) and trimmed.field == "position"
    assert type(native(404, "Whatever")) is NotFound
    assert type(native(413, "RecordTooLarge", "data")) is ValidationError
    unauthorized = native(401, "Unauthorized")
    assert isinstance(unauthorized, ResponseError) and unauthorized.status == 401


def test_settings_send_the_key_and_hide_it() -> None:
    settings = HttpSettings("http://h:1/", api_key="aion_k_secret")
    assert settings.headers()["Authorization"] == "Bearer aion_k_secret"
    assert "secret" not in repr(settings)
    assert "Authorization" not in HttpSettings().headers()
    assert settings.endpoint("/v1/streams") == "http://h:1/v1/streams"
    with pytest.raises(ConfigurationError, match="retries"):
        HttpSettings(retries=-1)


def test_every_client_sends_the_key_on_every_request() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"streams": [], "rollups": []})

    transport = httpx.MockTransport(handler)
    from aion import StreamsClient, TimeseriesClient

    with StreamsClient("http://aion", api_key="k1", transport=transport) as streams:
        streams.list_streams()
    with TimeseriesClient("http://aion", api_key="k2", transport=transport) as ts:
        ts.list()
    with Client("http://aion", api_key="k3", transport=transport) as client:
        client.streams()
    assert seen == ["Bearer k1", "Bearer k2", "Bearer k3"]


def test_the_get_plan_resumes_after_the_last_id_with_what_is_left() -> None:
    calls = EventCalls(HttpSettings(namespace="ns", retries=2))
    plan = calls.get(
        "s", 0, 100, start_id=None, limit=5, order="descending", namespace=None, retries=None
    )
    first = plan.call()
    assert first.body == {
        "stream": "s", "start_time": 0, "end_time": 100, "namespace": "ns",
        "order": "descending", "limit": 5,
    }  # fmt: skip
    events = plan.feed(b'{"@id": "a", "@time": 1}\r\n{"@id": "b", "@ti')
    assert events == [{"@id": "a", "@time": 1}]
    assert plan.dropped(RequestError("reset")) == pytest.approx(0.1)
    second = plan.call()  # the half line of the dropped answer is forgotten
    assert second.body["start_id"] == "a" and second.body["limit"] == 4
    assert plan.feed(b'{"@id": "c", "@time": 3}') == []
    assert plan.finish() == [{"@id": "c", "@time": 3}]
    assert plan.call().body == {**second.body, "start_id": "c", "limit": 3}
    assert plan.dropped(RequestError("reset")) == pytest.approx(0.2)
    with pytest.raises(RequestError, match="failed after 2 retries"):
        plan.dropped(RequestError("reset"))


async def test_the_async_get_drives_the_same_plan() -> None:
    bodies: list[dict[str, object]] = []

    class DropsOnce(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[no-untyped-def]
            yield b'{"@id": "a", "@time": 1}\r\n'
            raise httpx.ReadError("connection reset")

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        if len(bodies) == 1:
            return httpx.Response(200, stream=DropsOnce())
        return httpx.Response(200, content=b'{"@id": "b", "@time": 2}\r\n')

    async with AsyncClient("http://aion", transport=httpx.MockTransport(handler)) as client:
        got = [e["@time"] async for e in client.get("s", 0, 10)]
    assert got == [1, 2]
    assert bodies[1]["start_id"] == "a"


def test_timeseries_requests() -> None:
    calls = TimeseriesCalls(HttpSettings(namespace="a"))
    series = calls.series(
        "views/home page", start=datetime(2027, 1, 15, 8, tzinfo=UTC), end="now", steps=2,
        interval="minute", transform=["mean", "max"], condense=False, collapse=True,
        rule=None, namespace=None,
    )  # fmt: skip
    assert series.path == "/v1/timeseries/views%2Fhome%20page/series"
    assert series.params == {
        "namespace": "a", "start": "1800000000", "end": "now", "steps": "2",
        "interval": "minute", "transform": "mean,max", "collapse": "true",
    }  # fmt: skip
    listing = calls.list("b")
    assert listing.params == {"namespace": "b"}
    assert time_param(15_000_000) == "1.5" and time_param(-15_000_000) == "-1.5"
    assert time_param("-1h") == "-1h" and time_param(None) is None


def test_streams_requests_carry_the_namespace_as_a_parameter() -> None:
    call = StreamCalls(HttpSettings(namespace="ns")).read("s", "it", 10, 2.0)
    assert (call.method, call.path, call.params, call.timeout) == (
        "POST", "/v1/streams/s/read", {"namespace": "ns"}, 32.0,
    )  # fmt: skip
