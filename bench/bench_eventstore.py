"""The Kronos event store through the running server, beside its ceilings.

- HTTP put, batches of 1,000 events of ~150 B, into embedded SQLite, beside raw sqlite3
  executemany of the same rows into the same schema; the same on PostgreSQL beside raw COPY;
- single-event puts at a fixed offered rate: achieved rate and p50/p99/p99.9 latency
  (measured from the scheduled send time, so a stall is not hidden);
- get streaming every event, beside a raw scan of the same rows;
- the server's peak resident memory throughout.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec

from aion.core.events import prepare_event
from aion.storage.schema import EVENTS_TABLE, SQLITE_DDL
from bench.report import QUICK, row, rss_mb

N_EVENTS = 100_000 if QUICK else 1_000_000
BATCH = 1_000
SENDERS = 4
RATE = 2_000
RATE_SECONDS = 2 if QUICK else 5


def _event(i: int) -> dict[str, Any]:
    return {
        "user": i,
        "page": f"/products/item-{i % 9973:05d}",
        "referrer": "https://example.com/landing",
        "browser": {"name": "Firefox", "version": 126},
        "session": f"{i * 7919 % 1_000_003:08x}",
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``aion serve`` in a subprocess, with its peak memory sampled."""

    def __init__(self, data: Path, config: Path | None = None, workers: int = 1) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [
            sys.executable,
            "-m",
            "aion",
            "serve",
            "--port",
            str(self.port),
            "--data",
            str(data),
            "--log-level",
            "warning",
        ]
        if config is not None:
            args += ["--config", str(config)]
        if workers > 1:
            args += ["--workers", str(workers)]
        self.proc = subprocess.Popen(args)
        self.peak_rss = 0.0
        self._stop = threading.Event()
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.peak_rss = max(self.peak_rss, rss_mb(self.proc.pid)[1])
            except OSError:
                return

    def stop(self) -> None:
        self._stop.set()
        self.proc.terminate()
        self.proc.wait(30)


def _bodies(stream: str) -> list[bytes]:
    encode = msgspec.json.encode
    return [
        encode({"events": {stream: [_event(i) for i in range(start, start + BATCH)]}})
        for start in range(0, N_EVENTS, BATCH)
    ]


def http_put(url: str, stream: str) -> float:
    """Events/s of batched HTTP puts from SENDERS threads."""
    bodies = _bodies(stream)
    chunks = [bodies[i::SENDERS] for i in range(SENDERS)]
    errors: list[str] = []

    def send(chunk: list[bytes]) -> None:
        with httpx.Client(timeout=60, headers={"Content-Type": "application/json"}) as http:
            for body in chunk:
                r = http.post(url + "/1.0/events/put", content=body)
                if r.status_code != 200:
                    errors.append(r.text[:200])

    threads = [threading.Thread(target=send, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} puts failed: {errors[0]}")
    return N_EVENTS / elapsed


def http_get(url: str, stream: str) -> float:
    """Events/s streamed out of ``/1.0/events/get``."""
    body = {"stream": stream, "start_time": 0, "end_time": 2**62}
    count = 0
    started = time.perf_counter()
    with (
        httpx.Client(timeout=300) as http,
        http.stream("POST", url + "/1.0/events/get", json=body) as response,
    ):
        for chunk in response.iter_raw():
            count += chunk.count(b"\n")  # JSON lines hold no raw newline; "\r\n" may split
    elapsed = time.perf_counter() - started
    if count != N_EVENTS:
        raise RuntimeError(f"get returned {count} events, expected {N_EVENTS}")
    return count / elapsed


def _rows() -> list[tuple[Any, ...]]:
    """The rows the server writes: one "now" per batch of 1,000, as each put gets."""
    rows = []
    for start in range(0, N_EVENTS, BATCH):
        now = time.time_ns() // 100
        for i in range(start, start + BATCH):
            rec = prepare_event(_event(i), now)
            rows.append((1, rec.key, rec.time, 0, i + 1, None, rec.payload))
    return rows


def raw_sqlite(rows: list[tuple[Any, ...]]) -> tuple[float, float]:
    """Raw sqlite3: executemany of the rows in batches (one commit each), then a full scan."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.executescript(SQLITE_DDL)
        sql = (
            f"INSERT INTO {EVENTS_TABLE} (stream_id, k, time, shard, seq, partition_key, "
            "payload) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        started = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows[start : start + BATCH])
            conn.execute("COMMIT")
        insert_rate = len(rows) / (time.perf_counter() - started)
        started = time.perf_counter()
        cur = conn.execute(
            f"SELECT k, time, payload FROM {EVENTS_TABLE} WHERE stream_id = 1 ORDER BY k"
        )
        count = 0
        while batch := cur.fetchmany(5000):
            count += len(batch)
        scan_rate = count / (time.perf_counter() - started)
        conn.close()
    return insert_rate, scan_rate


def raw_postgres(url: str, rows: list[tuple[Any, ...]]) -> tuple[float, float]:
    """Raw psycopg: COPY of the rows in batches (one commit each), then a full SELECT."""
    import psycopg

    from aion.storage.schema import POSTGRES_DDL

    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS aion_events, aion_shards, aion_streams")
        conn.execute(POSTGRES_DDL)
        conn.commit()
        started = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            with conn.cursor().copy(
                f"COPY {EVENTS_TABLE} (stream_id, k, time, shard, seq, partition_key, payload) "
                "FROM STDIN"
            ) as copy:
                for r in rows[start : start + BATCH]:
                    copy.write_row(r)
            conn.commit()
        insert_rate = len(rows) / (time.perf_counter() - started)
        started = time.perf_counter()
        count = 0
        with conn.cursor(name="scan") as cur:
            cur.itersize = 5000
            cur.execute(
                f"SELECT k, time, payload FROM {EVENTS_TABLE} WHERE stream_id = 1 ORDER BY k",
                binary=True,
            )
            for _ in cur:
                count += 1
        scan_rate = count / (time.perf_counter() - started)
        conn.execute("DROP TABLE IF EXISTS aion_events, aion_shards, aion_streams")
        conn.commit()
    return insert_rate, scan_rate


async def _fixed_rate(url: str, rate: int, seconds: float) -> tuple[float, list[float]]:
    """Single-event puts at ``rate`` per second over keep-alive connections, with a lean
    asyncio HTTP/1.1 client (httpx itself cannot offer 2,000 requests/s from one core).
    Latency counts from each request's scheduled time, so queueing is not hidden."""
    host, port = url.removeprefix("http://").split(":")
    body = msgspec.json.encode({"events": {"single": [_event(1)]}})
    request = (
        f"POST /1.0/events/put HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    total = int(rate * seconds)
    connections = 32
    latencies: list[float] = []
    failures = 0
    started = time.perf_counter() + 0.2

    async def connection(index: int) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, int(port))
        for i in range(index, total, connections):
            scheduled = started + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if head.startswith(b"HTTP/1.1 200"):
                latencies.append(time.perf_counter() - scheduled)
            else:
                failures += 1
        writer.close()

    await asyncio.gather(*(connection(i) for i in range(connections)))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{failures} single-event puts failed")
    return len(latencies) / elapsed, sorted(latencies)


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def _pg_url() -> str | None:
    base = os.environ.get("AION_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        import psycopg

        name = f"aion_bench_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return base.rpartition("/")[0] + "/" + name
    except Exception as exc:
        print(f"PostgreSQL unavailable, skipping its figures: {exc}")
        return None


def _drop_pg(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _single_puts(url: str, label: str) -> list[dict[str, Any]]:
    """Achieved rate and latency percentiles of single-event puts at half and all of RATE."""
    results = []
    for rate in (RATE // 2, RATE):
        achieved, lat = asyncio.run(_fixed_rate(url, rate, RATE_SECONDS))
        results.append(row(f"{label}: single-event puts offered {rate}/s", achieved, "req/s"))
        for p, name in [(0.5, "p50"), (0.99, "p99"), (0.999, "p99.9")]:
            target = "p99.9 < 10 ms at 2000/s (Samsara)" if p == 0.999 else None
            results.append(
                row(f"{label}: {rate}/s single-event put latency {name}", _pct(lat, p), "ms",
                    target=target)
            )  # fmt: skip
    return results


def main() -> list[dict[str, Any]]:
    results = []
    print(f"{N_EVENTS:,} events of ~150 B, batches of {BATCH}, {SENDERS} sender threads")
    rows = _rows()
    raw_insert, raw_scan = raw_sqlite(rows)
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp))
        try:
            put_rate = http_put(server.url, "bench")
            results.append(
                row(
                    "sqlite: HTTP put (batches of 1,000)",
                    put_rate,
                    "events/s",
                    "raw sqlite3 executemany",
                    raw_insert,
                    ">= 0.70",
                )
            )
            get_rate = http_get(server.url, "bench")
            results.append(
                row(
                    "sqlite: HTTP get streaming",
                    get_rate,
                    "events/s",
                    "raw sqlite3 scan",
                    raw_scan,
                    ">= 0.70",
                )
            )
            results += _single_puts(server.url, "sqlite")
            results.append(row("sqlite: server peak RSS", server.peak_rss, "MB", target="< 300 MB"))
        finally:
            server.stop()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), workers=2)
        try:
            results += _single_puts(server.url, "sqlite, --workers 2")
        finally:
            server.stop()
    pg = _pg_url()
    if pg is not None:
        try:
            raw_copy, raw_select = raw_postgres(pg, rows)
            with tempfile.TemporaryDirectory() as tmp:
                config = Path(tmp) / "aion.toml"
                config.write_text(f'open = true\n[backends.pg]\nurl = "{pg}"\n')
                server = Server(Path(tmp), config)
                try:
                    put_rate = http_put(server.url, "bench")
                    results.append(
                        row(
                            "postgresql: HTTP put (batches of 1,000)",
                            put_rate,
                            "events/s",
                            "raw psycopg COPY",
                            raw_copy,
                            ">= 0.70",
                        )
                    )
                    get_rate = http_get(server.url, "bench")
                    results.append(
                        row(
                            "postgresql: HTTP get streaming",
                            get_rate,
                            "events/s",
                            "raw psycopg SELECT",
                            raw_select,
                            ">= 0.70",
                        )
                    )
                    results.append(
                        row("postgresql: server peak RSS", server.peak_rss, "MB", target="< 300 MB")
                    )
                finally:
                    server.stop()
        finally:
            _drop_pg(pg)
    return results


if __name__ == "__main__":
    main()
