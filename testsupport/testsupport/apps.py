"""Apps under test: run one in process, sign its tokens, record and stand in for what
it talks to, wait for its asynchronous effects."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.events import Event, MemoryBus
from shared.tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER, JwksSource, static_jwks_source


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
