"""Shipper benchmarks: the caller's cost per event, and sustained delivery into a local server.

Per-call cost (median and p99 of single timed calls) for Aion's ``Shipper.put``, the compat
``Streamer.log`` and ``SamsaraClient.record_event``, beside the ISStreamer package's ``log()``
and posthog's ``capture()`` measured in the same run. Then 100,000 events/s are offered for a
few seconds to a Shipper posting to the Initial State router served by uvicorn in another
process (a counting sink), and events/s delivered and events lost are reported.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CALLS = 50_000
OFFERED_RATE = 100_000
OFFER_SECONDS = 3.0


def _timed(call: Callable[[int], object], n: int = CALLS) -> tuple[float, float]:
    """Median and p99 in microseconds of ``n`` single calls (after a warm-up)."""
    for i in range(2000):
        call(i)
    samples = []
    clock = time.perf_counter_ns
    for i in range(n):
        t0 = clock()
        call(i)
        samples.append(clock() - t0)
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(n * 0.99)] / 1000


@contextlib.contextmanager
def _in_tempdir() -> Iterator[Path]:
    old = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(old)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def measure_calls(dead_url: str) -> dict[str, tuple[float, float]]:
    """Per-call costs; nothing is sent during the timed loops."""
    from aion.client.shipper import Shipper, ShipperConfig
    from aion.compat.isstreamer import Streamer as AionStreamer
    from aion.compat.samsara import SamsaraClient

    out: dict[str, tuple[float, float]] = {}
    big = {"max_events": 10**7, "max_bytes": 2**34, "max_batch_events": 10**6}
    shipper = Shipper(ShipperConfig(url=dead_url, **big), autostart=False)  # type: ignore[arg-type]
    out["aion Shipper.put"] = _timed(lambda i: shipper.put({"key": "temperature", "value": i}))
    shipper._state.reset()
    shipper.close(0)
    with _in_tempdir() as tmp:
        ini = tmp / "isstreamer.ini"
        ini.write_text(f"[isstreamer.api_config]\nstream_api_base = {dead_url}\n")
        streamer = AionStreamer(
            bucket_key="b", access_key="k", ini_file_location=str(ini), buffer_size=10**6
        )
        assert streamer._shipper is not None
        streamer._shipper._autostart = False
        out["aion compat Streamer.log"] = _timed(lambda i: streamer.log("temperature", i))
        streamer._shipper._state.reset()
        streamer._shipper.close(0)
        streamer.IsClosed = True
    samsara = SamsaraClient(
        url=dead_url, sourceId="bench", start_publishing_thread=False, max_buffer_size=10**6
    )
    out["aion compat SamsaraClient.record_event"] = _timed(
        lambda i: samsara.record_event(eventName="tick", n=i)
    )
    samsara._shipper._state.reset()
    samsara.close()
    out.update(_reference_calls(dead_url))
    return out


def _reference_calls(dead_url: str) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    try:
        from ISStreamer.Streamer import Streamer
    except ImportError:
        print("ISStreamer is not installed: pip install ISStreamer", file=sys.stderr)
    else:
        with _in_tempdir() as tmp:
            ini = tmp / "isstreamer.ini"
            ini.write_text(
                "[isstreamer.client_config]\naccess_key = k\n"
                f"[isstreamer.api_config]\nstream_api_base = {dead_url}\n"
            )
            # A buffer too big to fill, so log() never ships during the loop.
            ref = Streamer(bucket_key="b", ini_file_location=str(ini), buffer_size=10**9)
            out["ISStreamer 2.0.0 log()"] = _timed(lambda i: ref.log("temperature", i))
            ref.LogQueue.clear()
            ref.IsClosed = True
    try:
        from posthog import Posthog
    except ImportError:
        print("posthog is not installed: pip install posthog", file=sys.stderr)
    else:
        client = Posthog("phc_bench", host=dead_url, send=False, max_queue_size=10**7)
        out["posthog capture()"] = _timed(
            lambda i: client.capture("temperature", distinct_id="bench", properties={"v": i})
        )
        client.shutdown()
    return out


_SERVER = """
import sys, uvicorn
from fastapi import FastAPI
from aion.server.ingest.initialstate_api import initialstate_router

class CountingSink:
    count = 0
    async def ingest(self, namespace, stream, events, partition_keys=None, batch_id=None):
        CountingSink.count += len(events)

app = FastAPI()
app.state.sink = CountingSink()
app.include_router(initialstate_router())

@app.get("/count")
async def count():
    return {"count": CountingSink.count}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _offer(url: str, target: Any) -> tuple[int, float, float, Any]:
    """Offer OFFERED_RATE events/s for OFFER_SECONDS through a Shipper, then flush.

    Returns (events offered, offered rate, seconds until the flush ended, counters)."""
    from aion.client.shipper import Shipper, ShipperConfig

    shipper = Shipper(
        ShipperConfig(
            url=url,
            max_events=1_000_000,
            max_batch_events=5000,
            max_batch_bytes=1_000_000,
            flush_interval=0.05,
        ),
        target=target,
    )
    total = int(OFFERED_RATE * OFFER_SECONDS)
    started = time.perf_counter()
    for i in range(total):
        shipper.put({"key": "temperature", "value": i, "epoch": 1.7e9 + i / 1e6})
        if i % 1000 == 999:  # pace the offer at OFFERED_RATE
            ahead = (i + 1) / OFFERED_RATE - (time.perf_counter() - started)
            if ahead > 0:
                time.sleep(ahead)
    offered_for = time.perf_counter() - started
    shipper.flush(120)
    elapsed = time.perf_counter() - started
    counters = shipper.counters
    shipper.close(5)
    return total, total / offered_for, elapsed, counters


def _delivery(
    total: int, offered_rate: float, elapsed: float, counters: Any, delivered: int
) -> dict[str, float]:
    return {
        "offered": total,
        "offered_rate": offered_rate,
        "delivered": delivered,
        "delivered_rate": delivered / elapsed,
        "lost": total - delivered,
        "dropped": counters.dropped,
    }


def measure_delivery() -> dict[str, float]:
    """Into the Initial State router with a counting sink: the client and HTTP path alone."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(port)])
    try:
        _wait_until_up(base + "/count")
        total, rate, elapsed, counters = _offer(
            base + "/api/events", lambda route: _is_target(base)
        )
        with urllib.request.urlopen(base + "/count", timeout=5) as response:
            delivered = int(response.read().decode().split(":")[1].strip(" }"))
    finally:
        server.terminate()
        server.wait(10)
    return _delivery(total, rate, elapsed, counters, delivered)


def measure_delivery_into_aion() -> dict[str, float]:
    """Into a real ``aion serve`` (embedded SQLite) through the native ingest endpoint; the
    delivered count is what the store holds afterwards."""
    from aion import Client
    from aion.client.shipper import RouteTarget

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with _in_tempdir() as data:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aion",
                "serve",
                "--port",
                str(port),
                "--data",
                str(data),
                "--log-level",
                "warning",
            ]
        )
        try:
            _wait_until_up(base + "/healthz")
            target = RouteTarget(base + "/v1/ingest/default/shipped")
            total, rate, elapsed, counters = _offer(target.url, lambda route: target)
            with Client(base) as client:
                delivered = sum(1 for _ in client.get("shipped", 0, "now"))
        finally:
            server.terminate()
            server.wait(30)
    return _delivery(total, rate, elapsed, counters, delivered)


def _is_target(base: str) -> Any:
    from aion.client.shipper import RouteTarget

    return RouteTarget(base + "/api/events", {"X-IS-AccessKey": "k", "X-IS-BucketKey": "bench"})


def _row(name: str, value: float, unit: str, ref: str, ref_value: float | None) -> dict[str, Any]:
    ratio = value / ref_value if ref_value else None
    return {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "reference": ref,
        "reference_value": None if ref_value is None else round(ref_value, 3),
        "ratio": None if ratio is None else round(ratio, 3),
    }


def main() -> list[dict[str, Any]]:
    """Run the shipper benchmarks; print and return the rows."""
    dead_url = f"http://127.0.0.1:{_free_port()}"
    # The ISStreamer package writes err_missed_events.txt into the working directory when it
    # cannot ship (the dead URL above), so the references run in a temporary one.
    with _in_tempdir():
        calls = measure_calls(dead_url)
    posthog = calls.get("posthog capture()")
    isstreamer = calls.get("ISStreamer 2.0.0 log()")
    rows = []
    for name, (median, p99) in calls.items():
        if name.startswith("aion"):
            ref_name, ref = ("posthog capture()", posthog)
            if "Streamer.log" in name and isstreamer is not None:
                ref_name, ref = "ISStreamer 2.0.0 log()", isstreamer
            rows.append(_row(f"{name} median", median, "µs", ref_name, ref and ref[0]))
            rows.append(_row(f"{name} p99", p99, "µs", ref_name, ref and ref[1]))
        else:
            rows.append(_row(f"{name} median", median, "µs", "measured reference", None))
            rows.append(_row(f"{name} p99", p99, "µs", "measured reference", None))
    delivery = measure_delivery()
    rows.append(
        _row(
            "shipper → Initial State router, delivered",
            delivery["delivered_rate"],
            "events/s",
            f"offered {delivery['offered_rate']:.0f} events/s",
            delivery["offered_rate"],
        )
    )
    rows.append(_row("shipper → router, events lost", delivery["lost"], "events", "zero", None))
    into_aion = measure_delivery_into_aion()
    rows.append(
        _row(
            "shipper → aion serve (SQLite), delivered and stored",
            into_aion["delivered_rate"],
            "events/s",
            f"offered {into_aion['offered_rate']:.0f} events/s",
            into_aion["offered_rate"],
        )
    )
    rows.append(
        _row("shipper → aion serve, events lost", into_aion["lost"], "events", "zero", None)
    )
    for row in rows:
        print(
            f"{row['name']:<55} {row['value']:>12} {row['unit']:<9} "
            f"{row['reference']} {row['reference_value']} ratio={row['ratio']}"
        )
    return rows


if __name__ == "__main__":
    main()
