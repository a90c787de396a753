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

from shared.content_type import JsonBodyMiddleware
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
from shared.events.outbox import STAGED_FLAG
from shared.logging import RequestIdMiddleware, configure_logging
from shared.migrations import upgrade_to_head
from shared.observability import (
    MetricsMiddleware,
    ReadinessCheck,
    health_router,
    watch_database_pool,
)
from shared.settings import ServiceSettings
from shared.tokens import AccessTokenVerifier, JwksSource, http_jwks_source

log = logging.getLogger("shared.service")

StartupHook = Callable[[FastAPI], Awaitable[None]]
ShutdownHook = Callable[[FastAPI], Awaitable[None]]
Consumers = Mapping[str, Mapping[str, SessionHandler]]
"""queue name -> {event type -> handler(session, event)}"""
Broadcasts = Mapping[str, Handler]
"""event type -> handler(event), run in every process of the service (``subscribe_broadcast``)"""


def _without_422(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """OpenAPI generator that documents validation errors as the 400 they really are."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                if responses.pop("422", None) is not None:
                    responses.setdefault("400", {"description": "Validation error: "
                                                 "a map of field -> list of messages"})
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
        return schema

    return openapi


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
        await bus.subscribe_broadcast([event_type], handler)
    log.info("event bus connected", extra={"event": "bus_connected", "service": service})


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
    version: str = "1.0.0",
) -> FastAPI:
    """Build a service's FastAPI app; ``app.state`` holds ``settings``, ``db``,
    ``outbox``, ``bus``, ``verifier`` and ``peers`` for dependencies and domain code.

    ``readiness_checks`` are added to ``/readyz`` next to the database and the broker.
    ``peers`` are clients of other services, for the few calls ARCHITECTURE.md allows
    (in process in the embedded mode); every name in ``peer_urls`` without one gets an
    ``httpx.AsyncClient`` on that URL, closed on shutdown.
    """
    configure_logging(settings.service_name, settings.log_level)
    database = Database.from_settings(settings)
    watch_database_pool(settings.service_name, database)
    bus = create_bus(settings.amqp_url)
    relay = OutboxRelay(database.sessionmaker, event_tables, bus,
                        poll_interval=settings.outbox_poll_interval)
    idempotent_consumers = [
        IdempotentConsumer(database.sessionmaker, event_tables, bus, queue, handlers,
                           max_attempts=settings.consumer_max_attempts)
        for queue, handlers in (consumers or {}).items()
    ]

    def wake_relay(session: Session) -> None:
        if session.info.pop(STAGED_FLAG, False):
            relay.wake()

    database.on_commit(wake_relay)
    given_peers = dict(peers or {})
    own_peers = {name: httpx.AsyncClient(base_url=url, timeout=peer_timeout)
                 for name, url in (peer_urls or {}).items() if name not in given_peers}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.effective_database_url
        await asyncio.to_thread(ensure_database_exists, url)
        await asyncio.to_thread(upgrade_to_head, migrations, url)
        connecting = asyncio.create_task(_connect_bus(bus, idempotent_consumers,
                                                     broadcasts or {}, settings.service_name))
        # Give the broker a moment so the queues exist before the first request: an
        # event published to a queue nobody has declared yet is lost. A broker that is
        # down does not hold the start-up; the task keeps trying in the background.
        await asyncio.wait({connecting}, timeout=settings.bus_connect_grace_seconds)
        await relay.start()
        if on_startup is not None:
            await on_startup(app)
        log.info("service started", extra={"event": "service_started",
                                           "service": settings.service_name})
        try:
            yield
        finally:
            if on_shutdown is not None:
                await on_shutdown(app)
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
            await relay.stop()
            await bus.close()
            await database.dispose()
            for client in own_peers.values():
                await client.aclose()

    app = FastAPI(title=title, version=version, lifespan=lifespan, redirect_slashes=False,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.openapi = _without_422(app)  # type: ignore[method-assign]
    app.state.settings = settings
    app.state.db = database
    app.state.bus = bus
    app.state.outbox = Outbox(event_tables, producer=settings.service_name)
    app.state.relay = relay
    app.state.peers = {**given_peers, **own_peers}
    app.state.verifier = AccessTokenVerifier(jwks_source or http_jwks_source(settings.jwks_url))
    install_error_handlers(app)
    app.include_router(health_router({"database": database.ping, "broker": bus.ping,
                                      **(readiness_checks or {})}))
    for router in routers:
        app.include_router(router)
    app.add_middleware(JsonBodyMiddleware)
    app.add_middleware(MetricsMiddleware, service=settings.service_name)
    app.add_middleware(RequestIdMiddleware, service=settings.service_name)
    return app
