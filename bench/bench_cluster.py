"""Several ``aion serve`` processes on one PostgreSQL database: what an event costs per core.

For 1, 2 and 4 servers (each its own process and data directory, one shared database, as
behind a load balancer), SENDERS client threads post pre-encoded Kronos batches of 1,000
events, each thread going round the servers in turn. Printed per run:

- events/s acknowledged, beside one server in the same run and raw psycopg COPY of the same
  rows (the ceiling: the database doing only the insert);
- CPU milliseconds per 1,000 events of the Aion servers (their processes' user + system
  time), of PostgreSQL (the backends serving this database, from ``pg_stat_activity``), and
  of the client (this process);
- where the time goes: each side's part of the CPU an event costs, and the events/s the
  machine's cores would carry if they did nothing else (the per-core ceiling).

CPU time, unlike wall time, barely moves with what else the machine is doing, so the per-core
costs are comparable between runs on this shared machine; the events/s are not.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.bench_eventstore import BATCH, Server, _bodies, _drop_pg, _pg_url, _rows, raw_postgres
from bench.report import QUICK, row

SERVER_COUNTS = (1, 2) if QUICK else (1, 2, 4)
EVENTS = 50_000 if QUICK else 300_000
SENDERS = 4
SIDES = ("aion", "postgres", "client")
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def _database_backends(url: str) -> list[int]:
    """The PostgreSQL backend pids serving the database of ``url`` now."""
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return [int(pid) for (pid,) in rows]


def _send(urls: list[str], bodies: list[bytes]) -> float:
    """Post every body, thread ``i`` going round the servers from server ``i``; wall seconds."""
    chunks = [bodies[i::SENDERS] for i in range(SENDERS)]
    errors: list[str] = []

    def send(index: int, chunk: list[bytes]) -> None:
        with httpx.Client(timeout=120, headers={"Content-Type": "application/json"}) as http:
            for n, body in enumerate(chunk):
                url = urls[(index + n) % len(urls)]
                answer = http.post(url + "/1.0/events/put", content=body)
                if answer.status_code != 200:
                    errors.append(answer.text[:200])

    threads = [threading.Thread(target=send, args=(i, c)) for i, c in enumerate(chunks)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} puts failed: {errors[0]}")
    return elapsed


def _run(database: str, count: int, bodies: list[bytes]) -> dict[str, float]:
    """One run with ``count`` servers; CPU seconds of each side and the wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "aion.toml"
        config.write_text(f'open = true\n[backends.pg]\nurl = "{database}"\n')
        servers = [Server(Path(tmp) / f"node-{i}", config) for i in range(count)]
        try:
            # Warm each server's pool and schema before measuring.
            _send([s.url for s in servers], bodies[: SENDERS * count])
            before_pg = {pid: _cpu_seconds(pid) for pid in _database_backends(database)}
            before_servers = sum(_cpu_seconds(s.proc.pid) for s in servers)
            before_client = time.process_time()
            wall = _send([s.url for s in servers], bodies)
            client = time.process_time() - before_client
            aion = sum(_cpu_seconds(s.proc.pid) for s in servers) - before_servers
            pids = _database_backends(database)
            postgres = sum(_cpu_seconds(pid) - before_pg.get(pid, 0.0) for pid in pids)
        finally:
            for server in servers:
                server.stop()
    return {"wall": wall, "aion": aion, "postgres": postgres, "client": client}


def _per_thousand(seconds: float, events: int) -> float:
    return seconds * 1000 / (events / 1000)


def main() -> list[dict[str, Any]]:
    database = _pg_url()
    if database is None:
        return []
    results: list[dict[str, Any]] = []
    cores = os.cpu_count() or 1
    try:
        bodies = _bodies("cluster")[: EVENTS // BATCH]
        events = len(bodies) * BATCH
        raw_copy, _ = raw_postgres(database, _rows()[:events])
        single: float | None = None
        for count in SERVER_COUNTS:
            figures = _run(database, count, bodies)
            rate = events / figures["wall"]
            label = f"{count} server{'s' if count > 1 else ''}"
            if single is None:
                single = rate
                results.append(
                    row(f"cluster, {label}: HTTP put", rate, "events/s", "raw psycopg COPY",
                        raw_copy)
                )  # fmt: skip
            else:
                results.append(
                    row(f"cluster, {label}: HTTP put", rate, "events/s", "1 server", single)
                )
            for side in SIDES:
                results.append(
                    row(
                        f"cluster, {label}: {side} CPU per 1,000 events",
                        _per_thousand(figures[side], events),
                        "ms",
                    )
                )
            costs = {side: _per_thousand(figures[side], events) for side in SIDES}
            ceiling = cores * 1000 / sum(costs.values()) * 1000
            busiest = max(costs, key=lambda side: costs[side])
            split = ", ".join(f"{side} {cost / sum(costs.values()):.0%}" for side, cost in
                              costs.items())  # fmt: skip
            print(
                f"  {label}: CPU per event is {split}; the most goes to {busiest}. "
                f"{cores} cores spent only on this would carry {ceiling:,.0f} events/s"
            )
    finally:
        _drop_pg(database)
    return results
