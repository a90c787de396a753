"""The app factory every service uses: wiring only, no business logic.

:func:`create_service_app` gives a FastAPI app with the contract's error
bodies, request ids, metrics, health endpoints, token verification, and the
event plumbing (outbox relay, idempotent consumers) started in its lifespan.
The same factory serves the embedded mode (SQLite, in-process bus) and the
real one (PostgreSQL, RabbitMQ): only the settings differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from sqlmodel import Session

from shared.db import Database, ensure_database_exists
from shared.errors import install_error_handlers
from shared.events import (
    EventBus,
    EventTables,
    Handler,
    IdempotentConsumer,
    Outbox,
    OutboxRelay,
    SessionHandler,
    create_bus,
)
from shared.events.catalog import QUEUES, check_consumers
from shared.events.monitoring import EventMetrics
from shared.events.outbox import STAGED_FLAG
from shared.logging import RequestIdMiddleware, configure_logging, forward_request_id
from shared.migrations import upgrade_to_head
from shared.observability import (
    MetricsMiddleware,
    ReadinessCheck,
    health_router,
    watch_database_pool,
)
from shared.pruning import PruneRule, service_pruner
from shared.request_guard import RequestGuardMiddleware
from shared.settings import ServiceSettings
from shared.tokens import AccessTokenVerifier, JwksSource, http_jwks_source
from shared.tracing import TraceMiddleware, forward_trace, traced_handler, tracer
from shared.tracing import configure as configure_tracing

log = logging.getLogger("shared.service")

OUTBOX_FLUSH_SECONDS = 10.0
"""At shutdown, how long the last outbox pass may take (a broker that does not answer)."""

StartupHook = Callable[[FastAPI], Awaitable[None]]
ShutdownHook = Callable[[FastAPI], Awaitable[None]]
Consumers = Mapping[str, Mapping[str, SessionHandler]]
"""queue name -> {event type -> handler(session, event)}"""
Broadcasts = Mapping[str, Handler]
"""event type -> handler(event), run in every process of the service (``subscribe_broadcast``)"""


def _without_422(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """OpenAPI generator that documents validation errors as the 400 they really are, and
    moves the nested models of a request body documented by hand (``openapi_extra``, for a
    route that parses its own body) into the components its ``$ref``s point at."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    nested = media.get("schema", {}).pop("$defs", None)
                    if nested:
                        schema.setdefault("components", {}).setdefault("schemas", {}).update(
                            nested)
                responses = operation.get("responses", {})
                if responses.pop("422", None) is not None:
                    responses.setdefault("400", {"description": "Validation error: "
                                                 "a map of field -> list of messages"})
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
        return schema

    return openapi


def peer_client(base_url: str, *, timeout: float,
                transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """A client of another service that passes the current request id and trace on, so the
    callee's log lines and spans belong to the same story."""
    return httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport,
                             event_hooks={"request": [forward_request_id, forward_trace]})


async def _connect_bus(bus: EventBus, consumers: list[IdempotentConsumer],
                       broadcasts: Broadcasts, service: str) -> None:
    """Connect to the broker, retrying until it answers; then start the consumers.

    The service serves requests meanwhile: events wait in the outbox.
    """
    delay = 0.5
    while True:
        try:
            await bus.start()
            break
        except Exception as exc:  # broker down or unreachable: keep trying
            log.warning("broker unavailable, retrying", extra={
                "event": "broker_unavailable", "error": type(exc).__name__, "retryIn": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
    for consumer in consumers:
        await consumer.start()
    for event_type, handler in broadcasts.items():
        await bus.subscribe_broadcast([event_type],
                                      traced_handler(service, "broadcast", handler))
    log.info("event bus connected", extra={"event": "bus_connected", "service": service})


async def _flush_outbox(relay: OutboxRelay, service: str) -> None:
    """Publish what the last requests and messages staged, so nothing waits for the next
    start. Bounded: with the broker down the rows stay pending, which is consistent."""
    try:
        async with asyncio.timeout(OUTBOX_FLUSH_SECONDS):
            published = await relay.publish_pending()
    except Exception as exc:
        log.warning("outbox not flushed at shutdown; pending rows go out at the next start",
                    extra={"event": "outbox_flush_failed", "service": service,
                           "error": type(exc).__name__})
        return
    if published:
        log.info("outbox flushed at shutdown", extra={"event": "outbox_flushed",
                                                      "service": service, "count": published})


def create_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    event_tables: EventTables,
    migrations: Path,
    routers: Sequence[APIRouter],
    consumers: Consumers | None = None,
    broadcasts: Broadcasts | None = None,
    peers: Mapping[str, httpx.AsyncClient] | None = None,
    peer_urls: Mapping[str, str] | None = None,
    peer_timeout: float = 2.0,
    readiness_checks: Mapping[str, ReadinessCheck] | None = None,
    jwks_source: JwksSource | None = None,
    on_startup: StartupHook | None = None,
    on_shutdown: ShutdownHook | None = None,
    prune_rules: Sequence[PruneRule] = (),
    version: str = "1.0.0",
) -> FastAPI:
    """Build a service's FastAPI app; ``app.state`` holds ``settings``, ``db``,
    ``outbox``, ``bus``, ``verifier`` and ``peers`` for dependencies and domain code.

    ``readiness_checks`` are added to ``/readyz`` next to the database and the broker.
    ``peers`` are clients of other services, for the few calls ARCHITECTURE.md allows
    (in process in the embedded mode); every name in ``peer_urls`` without one gets an
    ``httpx.AsyncClient`` on that URL, closed on shutdown.
    ``prune_rules`` are the service's own tables to prune, beside its event tables.
    """
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing()
    database = Database.from_settings(settings)
    watch_database_pool(settings.service_name, database)
    check_consumers(consumers or {})
    bus = create_bus(settings.amqp_url, declare=QUEUES)
    relay = OutboxRelay(database.sessionmaker, event_tables, bus,
                        poll_interval=settings.outbox_poll_interval)
    idempotent_consumers = [
        IdempotentConsumer(database.sessionmaker, event_tables, bus, queue, handlers,
                           retry=settings.retry_policy, service=settings.service_name)
        for queue, handlers in (consumers or {}).items()
    ]

    def wake_relay(session: Session) -> None:
        if session.info.pop(STAGED_FLAG, False):
            relay.wake()

    database.on_commit(wake_relay)
    pruner = service_pruner(database, settings, event_tables, prune_rules)
    given_peers = dict(peers or {})
    own_peers = {name: peer_client(url, timeout=peer_timeout)
                 for name, url in (peer_urls or {}).items() if name not in given_peers}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_startup:
            url = settings.effective_database_url
            await asyncio.to_thread(ensure_database_exists, url)
            await asyncio.to_thread(upgrade_to_head, migrations, url)
        connecting = asyncio.create_task(_connect_bus(bus, idempotent_consumers,
                                                     broadcasts or {}, settings.service_name))
        # Give the broker a moment, so the consumers run before the first request. A broker
        # that is down does not hold the start-up: the task keeps trying in the background
        # and events wait in the outbox (the relay declares the catalogue's queues when it
        # connects, before it publishes anything).
        await asyncio.wait({connecting}, timeout=settings.bus_connect_grace_seconds)
        await relay.start()
        await pruner.start()
        try:
            # Inside the try: a start-up hook that refuses to start (auth's ADMIN_EMAIL
            # check) still has the bus, relay and pruner stopped behind it.
            if on_startup is not None:
                await on_startup(app)
            log.info("service started", extra={"event": "service_started",
                                               "service": settings.service_name})
            yield
        finally:
            # The server has stopped taking requests and finished (or given up on) the ones
            # in flight; now the same for messages, then what they staged goes out.
            await bus.drain(settings.shutdown_timeout_seconds)
            if on_shutdown is not None:
                await on_shutdown(app)
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
            await relay.stop()
            await _flush_outbox(relay, settings.service_name)
            await pruner.stop()
            await bus.close()
            await database.dispose()
            for client in own_peers.values():
                await client.aclose()
            log.info("service stopped", extra={"event": "service_stopped",
                                               "service": settings.service_name})

    app = FastAPI(title=title, version=version, lifespan=lifespan, redirect_slashes=False,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.openapi = _without_422(app)  # type: ignore[method-assign]
    app.state.settings = settings
    app.state.db = database
    app.state.bus = bus
    app.state.outbox = Outbox(event_tables, producer=settings.service_name)
    app.state.relay = relay
    app.state.pruner = pruner
    app.state.peers = {**given_peers, **own_peers}
    app.state.verifier = AccessTokenVerifier(jwks_source or http_jwks_source(settings.jwks_url),
                                             issuer=settings.jwt_issuer,
                                             audience=settings.jwt_audience)
    install_error_handlers(app)
    metrics = EventMetrics(settings.service_name, database, event_tables, bus)
    app.include_router(health_router({"database": database.ping, "broker": bus.ping,
                                      **(readiness_checks or {})},
                                     before_metrics=[metrics.refresh]))
    for router in routers:
        app.include_router(router)
    app.add_middleware(RequestGuardMiddleware)
    app.add_middleware(MetricsMiddleware, service=settings.service_name)
    app.add_middleware(RequestIdMiddleware, service=settings.service_name)
    service_tracer = tracer(settings.service_name)
    if service_tracer is not None:
        app.add_middleware(TraceMiddleware, tracer=service_tracer)
    return app
