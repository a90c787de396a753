"""Health, readiness and Prometheus metrics of the gateway.

Metric children are cached per (service, status) so the hot path pays a dict lookup
and two increments, not a label resolution.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from gateway.ratelimit import LimitStore
from gateway.upstreams import MissingUpstream, Upstream, fetch

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            10.0, 30.0)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "gateway_requests_total", "Requests answered by the gateway",
            ["service", "status"], registry=self.registry)
        self.latency = Histogram(
            "gateway_request_duration_seconds", "Time to the end of the response head",
            ["service"], buckets=_BUCKETS, registry=self.registry)
        self.upstream_errors = Counter(
            "gateway_upstream_errors_total", "Upstream failures (unavailable, timeout, bad)",
            ["service", "kind"], registry=self.registry)
        self.rejected = Counter(
            "gateway_rejected_total", "Requests refused at the edge",
            ["reason"], registry=self.registry)
        self._request_children: dict[tuple[str, int], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}

    def observe(self, service: str, status: int, seconds: float) -> None:
        key = (service, status)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self._request_children[key] = self.requests.labels(service, str(status))
        counter.inc()
        histogram = self._latency_children.get(service)
        if histogram is None:
            histogram = self._latency_children[service] = self.latency.labels(service)
        histogram.observe(seconds)

    def upstream_error(self, service: str, kind: str) -> None:
        self.upstream_errors.labels(service, kind).inc()

    def reject(self, reason: str) -> None:
        self.rejected.labels(reason).inc()

    def watch_limit_store(self, store: LimitStore) -> None:
        self.registry.register(_LimitStoreCollector(store))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _LimitStoreCollector(Collector):
    """The rate-limit store's state, read when scraped (nothing on the request path)."""

    def __init__(self, store: LimitStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        backend = [self.store.backend]
        up = GaugeMetricFamily(
            "gateway_limit_store_up",
            "1 while the rate-limit store answers; 0: logins are refused with 503",
            labels=["backend"])
        up.add_metric(backend, 1.0 if self.store.available else 0.0)
        errors = CounterMetricFamily(
            "gateway_limit_store_errors", "Rate-limit store calls that failed or timed out",
            labels=["backend"])
        errors.add_metric(backend, float(self.store.errors))
        yield up
        yield errors


async def upstream_states(upstreams: Mapping[str, Upstream], wait_seconds: float) -> dict[str, str]:
    """``up`` / ``down`` / ``not deployed`` for each service, checked concurrently."""

    async def state(upstream: Upstream) -> str:
        if isinstance(upstream, MissingUpstream):
            return "not deployed"
        try:
            status, _ = await fetch(upstream, "/healthz", timeout_seconds=wait_seconds)
        except Exception:
            return "down"
        return "up" if status < 500 else "down"

    names = list(upstreams)
    results = await asyncio.gather(*(state(upstreams[name]) for name in names))
    return dict(zip(names, results, strict=True))


def readiness_body(states: Mapping[str, str]) -> tuple[int, bytes]:
    ready = states.get("auth") == "up"
    body = {"status": "ready" if ready else "not ready", "upstreams": dict(states)}
    return (200 if ready else 503), json.dumps(body).encode()
