"""Prometheus metrics at ``GET /metrics``, all named ``aion_*``.

- ``aion_http_requests_total{route, method, status}``: requests by route template (never the
  raw path, which would grow without bound; Kinesis calls are ``/ kinesis:<Operation>``,
  requests that match no route ``unmatched``, requests refused by the key check ``refused``);
- ``aion_http_request_duration_seconds{route, method}``: latency histogram, until the last
  byte of the response;
- ``aion_http_requests_in_flight``;
- ``aion_http_errors_total{route, kind}``: ``client`` (4xx), ``server`` (5xx), ``exception``
  (the app raised);
- ``aion_auth_refusals_total{reason}``: ``unauthorized`` (401), ``forbidden`` (403) and
  ``keys_unavailable`` (503, a cluster's keys not read yet);
- ``aion_events_ingested_total{namespace, stream}``: events stored through the event service
  (Kronos, native ingest, Initial State, Samsara), counted once per acknowledged write. Label
  values are capped (:class:`LabelCap`): past ``max_streams`` pairs new streams count as
  ``other``, past ``max_namespaces`` namespaces too;
- ``aion_backend_up{backend}``: 1 when the backend answered ``is_alive`` at scrape time;
- ``aion_storage_write_queue_depth{backend}``: writes waiting for the SQLite writer thread.

The registry is per app, in one process: with ``--workers N`` each scrape reaches one worker
and shows its counters only (see docs/operations.md). Every sample carries a ``server`` label,
the config's ``node_id``, so the servers of a cluster scraped into one Prometheus stay apart
(and sum across with ``sum without (server, instance)``).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aion.server.ops.auth import REFUSAL_SCOPE, REQUEST_SCOPE
from aion.server.ops.auth_rules import Requirement
from aion.server.ops.health import probe_backends
from aion.server.ops.openapi import METRICS
from aion.server.service import EventService
from aion.version import __version__

__all__ = ["LabelCap", "Metrics", "RequestMetricsMiddleware", "install_metrics", "route_label"]

OTHER = "other"
SCRAPE_PROBE_TIMEOUT = 1.0
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class LabelCap:
    """Keeps label values bounded: the first ``max_namespaces`` namespaces and the first
    ``max_streams`` (namespace, stream) pairs keep their names; later ones become ``other``."""

    def __init__(self, max_namespaces: int = 100, max_streams: int = 1000) -> None:
        self.max_namespaces = max_namespaces
        self.max_streams = max_streams
        self._namespaces: set[str] = set()
        self._pairs: set[tuple[str, str]] = set()

    def labels(self, namespace: str, stream: str) -> tuple[str, str]:
        """The label values to count ``namespace``/``stream`` under."""
        if namespace not in self._namespaces:
            if len(self._namespaces) >= self.max_namespaces:
                return OTHER, OTHER
            self._namespaces.add(namespace)
        if (namespace, stream) not in self._pairs:
            if len(self._pairs) >= self.max_streams:
                return namespace, OTHER
            self._pairs.add((namespace, stream))
        return namespace, stream


def route_label(scope: Scope, kinesis_operations: Collection[str] = frozenset()) -> str:
    """The route template of a served request (after routing has run); ``refused`` for a
    request the key check turned away before routing, ``unmatched`` when no route matched.
    A Kinesis call is labelled with its operation when it is one of ``kinesis_operations``
    (the served ones), else ``unknown``: a client cannot mint labels."""
    path = getattr(scope.get("route"), "path", None)
    if not isinstance(path, str):
        return "refused" if REFUSAL_SCOPE in scope else "unmatched"
    if path == "/" and scope.get("method") == "POST":
        # The operation as the key check parsed it, as the handler acted on it.
        need = scope.get(REQUEST_SCOPE)
        operation = need.operation if isinstance(need, Requirement) else None
        return f"/ kinesis:{operation if operation in kinesis_operations else 'unknown'}"
    return path


class Metrics:
    """The instruments of one app, in their own registry."""

    def __init__(
        self,
        max_namespaces: int = 100,
        max_streams: int = 1000,
        kinesis_operations: Collection[str] = frozenset(),
        server: str = "aion",
    ) -> None:
        self.kinesis_operations = kinesis_operations
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "aion_http_requests", "HTTP requests.", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "aion_http_request_duration_seconds", "HTTP request latency, to the last byte.",
            ["route", "method"], buckets=_BUCKETS, registry=r,
        )  # fmt: skip
        self.in_flight = Gauge("aion_http_requests_in_flight", "Requests being served.", registry=r)
        self.errors = Counter("aion_http_errors", "Failed requests.", ["route", "kind"], registry=r)
        self.refusals = Counter(
            "aion_auth_refusals", "Requests refused by the API-key check.", ["reason"], registry=r
        )
        self.events = Counter(
            "aion_events_ingested", "Events stored through the event service.",
            ["namespace", "stream"], registry=r,
        )  # fmt: skip
        self.backend_up = Gauge(
            "aion_backend_up", "1 if the backend answered at scrape time.", ["backend"], registry=r
        )
        self.queue_depth = Gauge(
            "aion_storage_write_queue_depth", "Writes queued for a store's writer thread.",
            ["backend"], registry=r,
        )  # fmt: skip
        build = Gauge("aion_build_info", "The running version.", ["version"], registry=r)
        build.labels(__version__).set(1)
        self._cap = LabelCap(max_namespaces, max_streams)
        self.server = server

    def count_events(self, namespace: str, stream: str, count: int) -> None:
        """Count ``count`` events stored in ``namespace``/``stream``."""
        self.events.labels(*self._cap.labels(namespace, stream)).inc(count)

    def observe(self, scope: Scope, status: int, seconds: float, raised: bool) -> None:
        """Record one finished request."""
        route = route_label(scope, self.kinesis_operations)
        method = str(scope.get("method", "-"))
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)
        if raised:
            self.errors.labels(route, "exception").inc()
        elif status >= 500:
            self.errors.labels(route, "server").inc()
        elif status >= 400:
            self.errors.labels(route, "client").inc()
        refused = scope.get(REFUSAL_SCOPE)
        if isinstance(refused, str):
            self.refusals.labels(refused).inc()

    async def scrape(self, service: EventService) -> bytes:
        """The exposition text, with backend health and queue depths measured now."""
        for name, alive in (await probe_backends(service.stores, SCRAPE_PROBE_TIMEOUT)).items():
            self.backend_up.labels(name).set(1 if alive else 0)
        for name, store in service.stores.items():
            depth: Any = getattr(store, "queue_depth", None)
            if isinstance(depth, int):
                self.queue_depth.labels(name).set(depth)
        return generate_latest(_ServerLabelled(self.registry, self.server))


class _ServerLabelled:
    """A registry's metrics with a ``server`` label on every sample (prometheus_client has no
    constant labels; a label on each instrument would repeat the value at every call)."""

    def __init__(self, registry: CollectorRegistry, server: str) -> None:
        self.registry = registry
        self.server = server

    def collect(self) -> Iterator[Metric]:
        for family in self.registry.collect():
            family.samples = [
                sample._replace(labels={"server": self.server, **sample.labels})
                for sample in family.samples
            ]
            yield family


class RequestMetricsMiddleware:
    """Count and time every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        raised = False

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, observing_send)
        except BaseException:
            raised = True
            raise
        finally:
            self.metrics.in_flight.dec()
            self.metrics.observe(scope, status, time.perf_counter() - started, raised)


def install_metrics(
    app: FastAPI, service: EventService, kinesis_operations: Collection[str] = frozenset()
) -> Metrics:
    """Add ``/metrics`` and the request instruments to ``app``; count the service's writes.
    ``kinesis_operations``: the Kinesis operations the app serves, each its own route label."""
    metrics = Metrics(kinesis_operations=kinesis_operations, server=service.config.node_id)
    app.state.metrics = metrics
    service.on_stored = metrics.count_events

    @app.get("/metrics", tags=["operations"], response_class=Response, responses=METRICS)
    async def metrics_endpoint(request: Request) -> Response:
        """Prometheus metrics (text exposition format)."""
        body = await metrics.scrape(request.app.state.service)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return metrics
