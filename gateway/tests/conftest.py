from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from redis import Redis

from gateway.app import create_app
from gateway.settings import SERVICES, GatewaySettings
from shared.net import free_port
from shared.tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER, static_jwks_source
from testsupport.infra import port_answers

SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "test-key"
JWKS = {"keys": [{**json.loads(RSAAlgorithm.to_jwk(SIGNING_KEY.public_key())),
                  "kid": KID, "alg": "RS256", "use": "sig"}]}


def make_token(key: Any = SIGNING_KEY, *, kid: str | None = KID, alg: str = "RS256",
               **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": str(uuid.uuid4()), "role": "member", "tier": None, "iat": now,
               "exp": now + 3600, "jti": str(uuid.uuid4()), "typ": "access",
               "iss": DEFAULT_ISSUER, "aud": DEFAULT_AUDIENCE, **claims}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid} if kid else {})


class StandIn:
    """A stand-in service: records what reached it and answers with a JSON echo."""

    def __init__(self, name: str = "svc", status: int = 200, delay: float = 0.0) -> None:
        self.name = name
        self.status = status
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self.openapi: dict[str, Any] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        record = {"method": scope["method"], "path": scope["path"],
                  "query": scope["query_string"].decode(), "headers": headers, "body": body,
                  "client": scope.get("client"), "server": scope.get("server")}
        self.requests.append(record)
        if self.delay:
            await asyncio.sleep(self.delay)
        if scope["path"] == "/openapi.json" and self.openapi is not None:
            out = json.dumps(self.openapi).encode()
            status = 200
        elif scope["path"] == "/healthz":
            out, status = b'{"status": "ok"}', 200
        else:
            out = json.dumps({"service": self.name, "method": scope["method"],
                              "path": scope["path"], "query": record["query"],
                              "headers": headers, "bodySize": len(body)}).encode()
            status = self.status
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})


def no_upstreams(**overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {f"upstream_{service}": "" for service in SERVICES}
    values.update(overrides)
    return GatewaySettings(**values)


@pytest.fixture
def gateway_client() -> Callable[..., httpx.AsyncClient]:
    """Build an in-memory client for a gateway with the given local apps / settings."""

    def build(local_apps: dict[str, Any] | None = None, client_ip: str = "203.0.113.7",
              **settings: Any) -> httpx.AsyncClient:
        app = create_app(no_upstreams(**settings), local_apps or {},
                         jwks_source=static_jwks_source(JWKS))
        transport = httpx.ASGITransport(app=app, client=(client_ip, 51000))
        return httpx.AsyncClient(transport=transport, base_url="http://gateway")

    return build


class RunningServer:
    def __init__(self, app: Any, port: int, host: str = "127.0.0.1") -> None:
        self.port = port
        self.url = f"http://{host}:{port}"
        self.server = uvicorn.Server(uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="off", proxy_headers=False,
            ws="websockets-sansio"))
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> RunningServer:
        self.task = asyncio.create_task(self.server.serve())
        for _ in range(200):
            if self.server.started:
                return self
            await asyncio.sleep(0.01)
        raise RuntimeError("server did not start")

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    """Start real uvicorn servers on free ports; stopped after the test."""
    servers: list[RunningServer] = []

    async def start(app: Any, *, host: str = "127.0.0.1", port: int | None = None,
                    ) -> RunningServer:
        server = await RunningServer(app, port or free_port(), host).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


def bearer(token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or make_token()}"}


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own on the shared Redis; its keys are deleted after."""
    prefix = f"ma-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    with Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)


class PrivateRedis:
    """A ``redis-server`` child of this test on a free port, to stop and start at will.

    The machine's own Redis (127.0.0.1:6379) serves other engineers: outages are played on
    this one.
    """

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not port_answers(self.url, timeout=0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A started private Redis, stopped after the test whatever state it was left in."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = PrivateRedis(binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()
