"""The public API as a user calls it. Never run: ``test_typed_usage`` has mypy check it, strict,
so a signature that turns into ``Any`` or stops accepting these calls fails the suite."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import aion
from aion import (
    AionError,
    AsyncClient,
    AsyncShipper,
    AsyncStreamsClient,
    AsyncTimeseriesClient,
    Client,
    ConsumerGroupWorker,
    HttpSettings,
    Order,
    ResponseError,
    Shipper,
    ShipperConfig,
    StreamNotFound,
    StreamsClient,
    TimeLike,
    Timeseries,
    TimeseriesClient,
)
from aion.client.streams import ReadBatch, StreamInfo, StreamRecord
from aion.client.timeseries_types import Datapoint, RollupInfo, TimeseriesPoints

URL = "http://127.0.0.1:8151"
KEY = "aion_abc_secret"


def events() -> int:
    starts: list[TimeLike] = [0, "-1h", datetime.now(UTC), date(2024, 1, 1), timedelta(0)]
    with Client(URL, namespace="web", api_key=KEY, timeout=5.0, retries=3) as client:
        answer: dict[str, object] = client.put({"clicks": [{"user": 1}]})
        assert answer
        got = 0
        for start in starts:
            for event in client.get("clicks", start, "now", order=Order.DESCENDING, limit=10):
                user: object = event["user"]
                got += user is not None
        names: list[str] = client.streams()
        return got + len(names)


async def events_async() -> list[str]:
    async with AsyncClient(URL, api_key=KEY) as client:
        times = [event["@time"] async for event in client.get("clicks", 0, "now")]
        assert times is not None
        return await client.streams(namespace="web")


def streams() -> StreamInfo:
    with StreamsClient(URL, namespace="orders", api_key=KEY) as client:
        info: StreamInfo = client.create_stream("orders", shards=2)
        sequence: int = client.put("orders", "user-1", b"payload").sequence
        iterator: str = client.iterator("orders", 0, "AFTER_SEQUENCE_NUMBER", sequence)
        batch: ReadBatch = client.read("orders", iterator, limit=10, wait=1.0)
        data: list[bytes] = [record.data for record in batch.records]
        assert data is not None
        moved: bool = client.set_checkpoint("orders", "billing", 0, sequence, expected=0)
        assert moved in (True, False)

        def handle(record: StreamRecord) -> None:
            print(record.partition_key, record.data)

        worker = ConsumerGroupWorker(client, "orders", "billing", "host-1", handle)
        worker.stop()
        worker.run()
        shards: list[int] = worker.shards
        assert shards is not None
        return info


async def streams_async() -> int:
    async with AsyncStreamsClient(URL, api_key=KEY) as client:
        try:
            info = await client.describe_stream("orders")
        except StreamNotFound:
            return 0
        return len(info.shards)


def timeseries() -> float:
    with TimeseriesClient(URL, namespace="web", api_key=KEY) as client:
        rules: list[RollupInfo] = client.list()
        names: list[str] = [name for rule in rules for name in rule.names]
        assert names is not None
        bucket: TimeseriesPoints = client.get("views.home", "-1m", interval="minute")
        series = client.series(
            "views.home", start=datetime(2024, 1, 1, tzinfo=UTC), steps=60, transform=["mean"]
        )
        points: list[Datapoint] = bucket.datapoints + series.datapoints
        first: datetime = points[0].time
        assert first.tzinfo is UTC
        return sum(float(p.value) for p in points)


async def timeseries_async() -> int:
    async with AsyncTimeseriesClient(URL, api_key=KEY) as client:
        return len(await client.list(namespace="web"))


def shipping() -> bool:
    config = ShipperConfig(url=f"{URL}/v1/ingest/clicks", api_key=KEY, flush_interval=0.5)
    with Shipper(config) as shipper:
        queued: bool = shipper.put({"user": 1})
        assert queued in (True, False)
        return shipper.flush(5.0)


async def shipping_async() -> int:
    async with AsyncShipper(ShipperConfig(url=f"{URL}/v1/ingest/clicks")) as shipper:
        shipper.put({"user": 1})
        await shipper.flush(5.0)
        return shipper.counters.sent


def rollups() -> None:
    ts = Timeseries("memory://", type="count", intervals={"minute": {"step": 60}})
    ts.insert("views", 1)


def errors() -> str:
    settings = HttpSettings(URL, api_key=KEY)
    try:
        events()
    except ResponseError as exc:
        status: int = exc.status
        field: str | None = exc.field
        return f"{status} {field} {settings.url}"
    except AionError as exc:
        return str(exc)
    return aion.__version__


if __name__ == "__main__":
    asyncio.run(events_async())
