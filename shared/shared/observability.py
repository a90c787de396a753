"""Health, readiness and Prometheus metrics, the same on every service.

``/healthz`` says the process is alive; ``/readyz`` runs the service's
readiness checks (database, broker) and answers 503 when one fails;
``/metrics`` exposes request counts and latencies labelled by service.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ReadinessCheck = Callable[[], Awaitable[None]]

REQUESTS = Counter("http_requests_total", "HTTP requests handled",
                   ["service", "method", "route", "status"])
LATENCY = Histogram("http_request_duration_seconds", "HTTP request latency",
                    ["service", "method", "route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))

_UNTRACKED = {"/healthz", "/readyz", "/metrics"}


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
        if scope["type"] != "http" or scope["path"] in _UNTRACKED:
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
