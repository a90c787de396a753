"""Wiring: ``create_app()`` builds the gateway's ASGI app from settings.

Run alone: ``uvicorn gateway.app:create_app --factory --loop uvloop --http httptools``
(or ``python -m gateway``). Embedded mode passes the services' apps in ``local_apps``
and the gateway calls them in-process instead of over TCP.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from starlette.types import ASGIApp

from gateway.client_address import ClientAddress
from gateway.dispatch import Gateway
from gateway.edge_limits import EdgeLimits
from gateway.http_upstream import HopTimeouts, HttpUpstream
from gateway.lifespan import LocalLifespans
from gateway.observability import GatewayMetrics
from gateway.openapi import SchemaAggregator
from gateway.proxy import EdgePolicy, HttpProxy
from gateway.ratelimit import LimitStore, MemoryLimitStore, Window
from gateway.ratelimit_redis import RedisLimitStore
from gateway.settings import SERVICES, GatewaySettings
from gateway.upstream_pool import PoolLimits
from gateway.upstreams import LocalUpstream, MissingUpstream, Upstream, fetch_json
from shared.logging import configure_logging
from shared.tokens import AccessTokenVerifier, JwksSource
from shared.tracing import configure as configure_tracing
from shared.tracing import tracer

log = logging.getLogger("gateway")


def create_app(
    settings: GatewaySettings | None = None,
    local_apps: Mapping[str, ASGIApp] | None = None,
    *,
    jwks_source: JwksSource | None = None,
    manage_local_lifespans: bool = True,
) -> Gateway:
    """The gateway as an ASGI app.

    ``local_apps`` maps service names (``auth``, ``vehicles``, ...) to ASGI apps run in
    this process; the others are reached at their ``UPSTREAM_<NAME>`` URLs. With
    ``manage_local_lifespans`` the gateway's own lifespan starts and stops those apps.
    ``jwks_source`` overrides where the verification keys come from (default: the
    auth upstream's ``JWKS_PATH``).
    """
    settings = settings or GatewaySettings()
    configure_logging("gateway", settings.log_level)
    configure_tracing()
    upstreams = build_upstreams(SERVICES, settings.upstream_urls, local_apps,
                                limits=settings.pool_limits, timeouts=settings.hop_timeouts)
    if jwks_source is None:
        auth = upstreams["auth"]
        jwks_path = settings.jwks_path

        async def jwks_from_auth() -> dict:
            return await fetch_json(auth, jwks_path)

        jwks_source = jwks_from_auth
    verifier = AccessTokenVerifier(
        jwks_source,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        algorithms=settings.algorithms,
        min_refresh_interval=settings.jwks_min_refresh_seconds,
    )
    limits = edge_limits(settings)
    policy = EdgePolicy(
        max_body_bytes=settings.max_body_bytes,
        max_body_bytes_telemetry=settings.max_body_bytes_telemetry,
        request_body_timeout_seconds=settings.request_body_timeout_seconds,
        limits=limits,
        client_address=ClientAddress(settings.forwarded_allow_ips, settings.forwarded_header),
        unavailable_retry_after_seconds=settings.upstream_unavailable_retry_after_seconds,
    )
    metrics = GatewayMetrics()
    metrics.watch_limit_store(limits.store)
    return Gateway(
        upstreams=upstreams,
        verifier=verifier,
        proxy=HttpProxy(upstreams, verifier, policy, metrics),
        metrics=metrics,
        schema=SchemaAggregator(upstreams, timeout=settings.openapi_fetch_timeout_seconds,
                                cache_seconds=settings.openapi_cache_seconds),
        cors_origins=settings.cors_origins,
        lifespans=LocalLifespans(
            [u for u in upstreams.values() if isinstance(u, LocalUpstream)],
            enabled=manage_local_lifespans),
        readiness_timeout=settings.readiness_timeout_seconds,
        tracer=tracer("gateway"),
    )


def edge_limits(settings: GatewaySettings) -> EdgeLimits:
    """The login and registration limits, in Redis when ``REDIS_URL`` is set."""
    store: LimitStore
    if settings.redis_url:
        store = RedisLimitStore(settings.redis_url, prefix=settings.redis_key_prefix,
                                timeout=settings.redis_timeout_seconds,
                                max_connections=settings.redis_max_connections)
    else:
        store = MemoryLimitStore()
    log.info("rate limits kept in %s", store.backend,
             extra={"event": "limit_store", "backend": store.backend})
    return EdgeLimits(
        store,
        login_failures_per_email=Window(
            "login-email", settings.rate_limit_login_failures_per_email,
            settings.rate_limit_login_failures_per_email_window_seconds),
        login_failures_per_ip=Window(
            "login-ip", settings.rate_limit_login_failures_per_ip,
            settings.rate_limit_login_failures_per_ip_window_seconds),
        registrations_per_ip=Window(
            "register-ip", settings.rate_limit_register_per_ip,
            settings.rate_limit_register_per_ip_window_seconds),
        fallback=MemoryLimitStore(),
    )


def build_upstreams(
    services: tuple[str, ...],
    urls_for: Callable[[str], list[str]],
    local_apps: Mapping[str, ASGIApp] | None,
    *,
    limits: PoolLimits,
    timeouts: HopTimeouts,
) -> dict[str, Upstream]:
    """One upstream per service: in-process when its app is given, else HTTP, else missing."""
    upstreams: dict[str, Upstream] = {}
    for service in services:
        if local_apps and service in local_apps:
            upstreams[service] = LocalUpstream(service, local_apps[service],
                                               timeout=timeouts.response_head)
        elif urls := urls_for(service):
            upstreams[service] = HttpUpstream(service, urls, limits=limits, timeouts=timeouts)
        else:
            upstreams[service] = MissingUpstream(service)
    return upstreams
