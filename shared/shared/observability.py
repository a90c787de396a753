"""Health, readiness and Prometheus metrics, the same on every service.

``/healthz`` says the process is alive; ``/readyz`` runs the service's
readiness checks (database, broker) and answers 503 when one fails;
``/metrics`` exposes request counts and latencies labelled by service, and the
state of each service's database pool (:func:`watch_database_pool`).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:  # the pool collector only names the type; tracing imports this module
    from shared.db import Database

ReadinessCheck = Callable[[], Awaitable[None]]

REQUESTS = Counter("http_requests_total", "HTTP requests handled",
                   ["service", "method", "route", "status"])
LATENCY = Histogram("http_request_duration_seconds", "HTTP request latency",
                    ["service", "method", "route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))

OPERATIONAL_PATHS = frozenset({"/healthz", "/healthz/", "/readyz", "/readyz/", "/metrics",
                               "/metrics/"})
"""What probes and scrapers call: neither counted in the request metrics nor traced."""

_POOL_GAUGES = {
    "in_use": ("db_pool_connections_in_use", "Pooled database connections checked out now"),
    "idle": ("db_pool_connections_idle", "Pooled database connections open and unused"),
    "overflow": ("db_pool_connections_overflow",
                 "Connections open beyond the pool size (closed once idle again)"),
    "limit": ("db_pool_connections_limit",
              "Most connections the pool may open (pool size + overflow: the budget share)"),
    "waiting": ("db_pool_checkouts_waiting",
                "Requests and handlers waiting for a pooled database connection"),
}


class _DatabasePools(Collector):
    """Reads the pools of the live databases at each scrape (none kept alive by it)."""

    def __init__(self) -> None:
        self._databases: weakref.WeakKeyDictionary[Database, str] = weakref.WeakKeyDictionary()

    def watch(self, service: str, database: Database) -> None:
        self._databases[database] = service

    def _families(self) -> tuple[dict[str, GaugeMetricFamily], CounterMetricFamily]:
        gauges = {field: GaugeMetricFamily(name, text, labels=["service"])
                  for field, (name, text) in _POOL_GAUGES.items()}
        timeouts = CounterMetricFamily(
            "db_pool_checkout_timeouts", "Checkouts that found no free connection in time (503)",
            labels=["service"])
        return gauges, timeouts

    def describe(self) -> Iterator[Metric]:
        gauges, timeouts = self._families()
        yield from gauges.values()
        yield timeouts

    def collect(self) -> Iterator[Metric]:
        # Summed per service: one process may hold several databases of one service
        # (tests), and one sample per label set is what Prometheus expects.
        totals: dict[str, dict[str, int]] = {}
        for database, service in list(self._databases.items()):
            stats = database.pool_stats()
            if stats is None:
                continue
            total = totals.setdefault(service, dict.fromkeys([*_POOL_GAUGES, "timeouts"], 0))
            for field in total:
                total[field] += getattr(stats, field)
        gauges, timeouts = self._families()
        for service, total in totals.items():
            for field, family in gauges.items():
                family.add_metric([service], total[field])
            timeouts.add_metric([service], total["timeouts"])
        yield from gauges.values()
        yield timeouts


_DATABASE_POOLS = _DatabasePools()
REGISTRY.register(_DATABASE_POOLS)


def watch_database_pool(service: str, database: Database) -> None:
    """Expose ``database``'s pool on ``/metrics`` while it lives (PostgreSQL only)."""
    _DATABASE_POOLS.watch(service, database)


def health_router(checks: Mapping[str, ReadinessCheck], *, timeout: float = 3.0,
                  before_metrics: Sequence[Callable[[], Awaitable[None]]] = ()) -> APIRouter:
    """Routes for ``/healthz``, ``/readyz`` and ``/metrics``.

    ``before_metrics`` run before each scrape, to refresh gauges that are read from
    elsewhere (a table, the broker) rather than counted as things happen.
    """
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                async with asyncio.timeout(timeout):
                    await check()
                results[name] = "ok"
            except Exception as exc:  # any failure means "not ready"; say which
                results[name] = f"failed: {type(exc).__name__}"
        if all(value == "ok" for value in results.values()):
            return JSONResponse({"status": "ready", "checks": results})
        return JSONResponse({"error": "Not ready", "checks": results}, status_code=503)

    @router.get("/metrics")
    async def metrics() -> Response:
        for refresh in before_metrics:
            await refresh()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class MetricsMiddleware:
    """Counts requests and times them, labelled by route template (not raw path)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    @staticmethod
    def _route(scope: Scope) -> str:
        # The router records the matched route in the scope; no second matching pass.
        route = scope.get("route")
        return str(getattr(route, "path", "unmatched"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPERATIONAL_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = self._route(scope)
            method = scope["method"]
            REQUESTS.labels(self.service, method, route, str(status)).inc()
            LATENCY.labels(self.service, method, route).observe(time.perf_counter() - started)
