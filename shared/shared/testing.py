"""Test infrastructure shared by every package's tests: broker and database URLs, tokens.

Resolution order (ARCHITECTURE.md, "Machines here"): the ``TEST_AMQP_URL`` /
``TEST_DATABASE_URL`` environment variables, else the local defaults when they answer,
else a testcontainers container when Docker answers, else nothing, in which case tests
skip, except under ``CI=true`` where a missing service is a failure.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.events import Event, MemoryBus
from shared.tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER, JwksSource, static_jwks_source

LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"

Cleanup = Callable[[], None]


class EventRecorder:
    """Records the events of the given types published on the in-process hub (tests)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.bus = MemoryBus()

    async def start(self, *types: str) -> EventRecorder:
        """Start recording events whose type matches one of ``types`` (topic patterns)."""
        async def record(event: Event) -> None:
            self.events.append(event)

        await self.bus.subscribe(f"test.{uuid.uuid4().hex}", list(types), record)
        return self

    def of(self, kind: str) -> list[Event]:
        """The recorded events of type ``kind``, in the order they were published."""
        return [e for e in self.events if e.type == kind]

    async def close(self) -> None:
        """Stop recording."""
        await self.bus.close()


class OwnedResourceStandIn:
    """Stands in for another service in a service's own tests: ``GET <prefix><id>/``
    answers 200 ``{"id", "user"}`` for the caller's resource and 404 ``{"error":
    not_found}`` otherwise, as the real service does; ``down`` makes every call fail to
    connect. The caller is the bearer token's ``sub`` (the service under test forwards it).
    """

    def __init__(self, name: str, prefix: str, not_found: str) -> None:
        self.name, self.prefix, self.not_found = name, prefix, not_found
        self.owners: dict[str, str] = {}  # resource id -> owner id
        self.calls: list[str] = []
        self.down = False

    def add(self, owner_id: str) -> str:
        """A new resource of ``owner_id``; returns its id."""
        resource_id = str(uuid.uuid4())
        self.owners[resource_id] = owner_id
        return resource_id

    def handler(self, request: httpx.Request) -> httpx.Response:
        """The ``httpx.MockTransport`` handler."""
        self.calls.append(request.url.path)
        if self.down:
            raise httpx.ConnectError(f"{self.name} is down", request=request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        caller = jwt.decode(token, options={"verify_signature": False})["sub"]
        resource_id = request.url.path.removeprefix(self.prefix).strip("/")
        if self.owners.get(resource_id) != caller:
            return httpx.Response(404, json={"error": self.not_found})
        return httpx.Response(200, json={"id": resource_id, "user": caller})

    def client(self) -> httpx.AsyncClient:
        """A client of this stand-in, to hand the app as ``peers[name]``."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler),
                                 base_url=f"http://{self.name}")


def vehicles_stand_in() -> OwnedResourceStandIn:
    """The vehicles service's ``GET /api/vehicles/{id}/``."""
    return OwnedResourceStandIn("vehicles", "/api/vehicles/", "Vehicle not found")


class TokenSigner:
    """Signs access tokens as the auth service does, for a service's own tests.

    The RSA key is made here; hand ``jwks_source`` to the service's ``create_app``.
    Tokens carry the ``iss`` and ``aud`` that services accept by default.
    """

    def __init__(self, kid: str = "test-key", *, issuer: str = DEFAULT_ISSUER,
                 audience: str = DEFAULT_AUDIENCE) -> None:
        self.kid = kid
        self.issuer = issuer
        self.audience = audience
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=kid, alg="RS256", use="sig")
        self.jwks: dict[str, Any] = {"keys": [jwk]}

    @property
    def jwks_source(self) -> JwksSource:
        """The JWK set of this signer's key, as a service's token verifier reads it."""
        return static_jwks_source(self.jwks)

    def token(self, user_id: str, *, role: str = "member", tier: str | None = None,
              lifetime: int = 3600, key: Any = None, **claims: Any) -> str:
        """An RS256 access token for ``user_id``; ``claims`` override the defaults (a claim
        given as ``...`` is left out) and ``key`` signs with another key (a forged token)."""
        now = int(time.time())
        payload = {"sub": user_id, "role": role, "tier": tier, "typ": "access",
                   "jti": str(uuid.uuid4()), "iss": self.issuer, "aud": self.audience,
                   "iat": now, "exp": now + lifetime, **claims}
        return jwt.encode({k: v for k, v in payload.items() if v is not ...},
                          key or self.key, algorithm="RS256", headers={"kid": self.kid})


def port_answers(url: str, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at ``url``'s host and port."""
    parts = urlsplit(url)
    default_port = {"amqp": 5672, "amqps": 5671, "redis": 6379}.get(parts.scheme, 5432)
    try:
        with closing(
            socket.create_connection(
                (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=timeout
            )
        ):
            return True
    except OSError:
        return False


def docker_answers() -> bool:
    """Whether a Docker engine is reachable (for testcontainers)."""
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


def resolve_amqp_url() -> tuple[str | None, Cleanup]:
    """A RabbitMQ URL for tests and a function that releases it (stops a container)."""
    if url := os.environ.get("TEST_AMQP_URL"):
        return url, _nothing
    if port_answers(LOCAL_AMQP_URL):
        return LOCAL_AMQP_URL, _nothing
    if docker_answers():
        from testcontainers.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer("rabbitmq:3.13-alpine").start()
        host = container.get_container_host_ip()
        port = container.get_exposed_port(container.port)
        return f"amqp://guest:guest@{host}:{port}/", container.stop
    return None, _nothing


def resolve_postgres_admin_url() -> tuple[str | None, Cleanup]:
    """A PostgreSQL URL (SQLAlchemy form) allowed to create databases, and its cleanup."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        return url, _nothing
    if port_answers(LOCAL_POSTGRES_URL):
        return LOCAL_POSTGRES_URL, _nothing
    if docker_answers():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:16-alpine", driver="psycopg").start()
        return container.get_connection_url(), container.stop
    return None, _nothing


def create_throwaway_vhost(amqp_url: str, prefix: str = "ma_test") -> tuple[str, Cleanup]:
    """A fresh RabbitMQ virtual host on the broker of ``amqp_url``, and its deletion.

    A platform started for a test or a benchmark declares the same durable queues as
    any other on the broker (``vehicles.odometer``, ...); its own vhost keeps their
    messages apart and deleting it removes them all. Needs ``rabbitmqctl`` on this
    machine (the local broker); elsewhere (a container, a remote broker) the URL is
    returned unchanged.
    """
    import shutil
    import subprocess

    parts = urlsplit(amqp_url)
    if shutil.which("rabbitmqctl") is None or parts.hostname not in ("127.0.0.1", "localhost"):
        return amqp_url, _nothing
    vhost = f"{prefix}_{uuid.uuid4().hex[:12]}"
    user = parts.username or "guest"

    def rabbitmqctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True,
                       timeout=60)

    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    return urlunsplit(parts._replace(path=f"/{vhost}")), lambda: rabbitmqctl(
        "delete_vhost", vhost)


def require(url: str | None, what: str) -> str:
    """Return ``url``, or skip the test when it is None (fail instead under ``CI=true``)."""
    if url is not None:
        return url
    import pytest

    message = f"{what} is not available (set TEST_AMQP_URL / TEST_DATABASE_URL / TEST_REDIS_URL)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _libpq_url(url: str) -> str:
    # psycopg wants postgresql://, SQLAlchemy URLs carry the driver: postgresql+psycopg://
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def create_throwaway_database(admin_url: str, prefix: str = "ma_test") -> str:
    """Create an empty database with a random name; returns its SQLAlchemy URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq_url(admin_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return with_database(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database ``url`` points at, disconnecting whoever is still connected."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_libpq_url(admin_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def serve_in_process(
    app: Any, base_url: str = "http://testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan and yield a client that calls it in process (no sockets).

    The in-process event hub starts empty, as it does when the embedded platform starts.
    """
    from shared.events import reset_hub

    reset_hub()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


def _nothing() -> None:
    return None


async def wait_until(
    predicate: Callable[[], object], within: float = 10.0, interval: float = 0.02
) -> None:
    """Poll ``predicate`` (sync, or returning an awaitable) until it is truthy.

    Raises ``TimeoutError`` after ``within`` seconds. For asynchronous effects (a
    consumer receiving an event): a generous timeout that only matters when something is
    broken, never a timed assertion.
    """
    import asyncio
    import inspect

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise TimeoutError(f"condition not met within {within}s")
        await asyncio.sleep(interval)
