"""Chat service tests: the real app, on SQLite and on PostgreSQL.

Tokens are signed with a test RSA key whose JWK set the app gets as ``jwks_source``.
The files service (another package, not imported here) is stood in for by an
``httpx.MockTransport`` that answers ``GET /api/files/{id}/`` as CONTRACT.md says.
REST tests call the app in process; socket tests serve it with uvicorn on a free port
and talk to it with the ``websockets`` client.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from chat.app import create_app
from chat.settings import ChatSettings
from shared.events import reset_hub
from testsupport.apps import (
    EventRecorder,
    OwnedResourceStandIn,
    TokenSigner,
    serve_in_process,
    wait_until,
)
from testsupport.infra import create_throwaway_vhost

SIGNER = TokenSigner("chat-test")


def make_token(user_id: str, role: str = "member", lifetime: int = 3600) -> str:
    return SIGNER.token(user_id, role=role, lifetime=lifetime)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}




def chat_settings(database_url: str, **overrides: Any) -> ChatSettings:
    values: dict[str, Any] = {"database_url": database_url, "amqp_url": "memory://",
                              "outbox_poll_interval": 0.05}
    values.update(overrides)
    return ChatSettings(**values)


@pytest.fixture
def files() -> OwnedResourceStandIn:
    return OwnedResourceStandIn("files", "/api/files/", "File not found")


@pytest.fixture
async def app(database_url: str, files: OwnedResourceStandIn) -> AsyncIterator[FastAPI]:
    peer = files.client()
    yield create_app(chat_settings(database_url), jwks_source=SIGNER.jwks_source,
                     peers={"files": peer})
    await peer.aclose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(app) as client:
        yield client


@asynccontextmanager
async def serve_over_tcp(app: FastAPI, **options: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1; yields ``host:port``."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_config=None,
                            **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started or task.done(), within=60)
    if task.done():
        task.result()
        raise RuntimeError("uvicorn stopped during start-up")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(name="serve_over_tcp")
def serve_over_tcp_fixture() -> Any:
    """:func:`serve_over_tcp`, for tests that need their own uvicorn options."""
    return serve_over_tcp


class ChatApi:
    """What tests do over and over against one chat app, through ``client``."""

    bearer = staticmethod(bearer)
    token = staticmethod(make_token)

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    @staticmethod
    def person(role: str = "member") -> tuple[str, str]:
        """A new user id and an access token for it."""
        user_id = str(uuid.uuid4())
        return user_id, make_token(user_id, role)

    async def new_thread(self, token: str, **body: Any) -> dict[str, Any]:
        response = await self.client.post("/api/chat/threads/", json=body,
                                          headers=bearer(token))
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def post(self, token: str, thread_id: str, body: Any = "hello",
                   **extra: Any) -> httpx.Response:
        return await self.client.post(f"/api/chat/threads/{thread_id}/messages/",
                                      json={"body": body, **extra}, headers=bearer(token))

    async def messages(self, token: str, thread_id: str, **params: str) -> httpx.Response:
        return await self.client.get(f"/api/chat/threads/{thread_id}/messages/",
                                     params=params, headers=bearer(token))

    async def threads(self, token: str) -> list[dict[str, Any]]:
        response = await self.client.get("/api/chat/threads/", headers=bearer(token))
        assert response.status_code == 200, response.text
        return list(response.json())


@pytest.fixture
def person() -> Any:
    """``person(role)`` -> a new user id and an access token for it."""
    return ChatApi.person


@pytest.fixture
def api(app: FastAPI, client: httpx.AsyncClient) -> ChatApi:
    return ChatApi(app, client)


class ServedChat(ChatApi):
    """A chat app served over TCP: REST calls and sockets against it."""

    def __init__(self, app: FastAPI, address: str, client: httpx.AsyncClient) -> None:
        super().__init__(app, client)
        self.address = address
        self.sockets: list[ClientConnection] = []

    async def connect(self, token: str | None, *, subprotocol: bool = False,
                      path: str = "/chat/ws") -> ClientConnection:
        url = f"ws://{self.address}{path}"
        if token is not None and not subprotocol:
            url += f"?token={token}"
        protocols: Any = ["bearer", token] if subprotocol else None
        socket = await connect(url, subprotocols=protocols, open_timeout=10)
        self.sockets.append(socket)
        return socket

    async def close(self) -> None:
        for socket in self.sockets:
            await socket.close()

    @staticmethod
    async def next_frame(socket: ClientConnection, within: float = 10.0) -> dict[str, Any]:
        """The next frame the socket receives, decoded (fails after ``within`` seconds)."""
        async with asyncio.timeout(within):
            return dict(json.loads(await socket.recv()))

    async def send(self, socket: ClientConnection, **frame: Any) -> None:
        await socket.send(json.dumps(frame))


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[ServedChat]:
    reset_hub()
    async with serve_over_tcp(app) as address:
        async with httpx.AsyncClient(base_url=f"http://{address}") as client:
            served = ServedChat(app, address, client)
            yield served
            await served.close()


@pytest.fixture
def served_with(database_url: str, files: OwnedResourceStandIn) -> Any:
    """``async with served_with(**settings) as served``: a chat app with those settings,
    served over TCP like ``served``."""

    @asynccontextmanager
    async def serving(**overrides: Any) -> AsyncIterator[ServedChat]:
        reset_hub()
        peer = files.client()
        app = create_app(chat_settings(database_url, **overrides),
                         jwks_source=SIGNER.jwks_source, peers={"files": peer})
        try:
            async with serve_over_tcp(app) as address, \
                    httpx.AsyncClient(base_url=f"http://{address}") as client:
                served = ServedChat(app, address, client)
                try:
                    yield served
                finally:
                    await served.close()
        finally:
            await peer.aclose()

    return serving


@pytest.fixture
async def recorder(client: httpx.AsyncClient) -> AsyncIterator[EventRecorder]:
    recorder = await EventRecorder().start("chat.#")
    yield recorder
    await recorder.close()


@pytest.fixture
async def replicas(postgres_url: str, amqp_url: str,
                   files: OwnedResourceStandIn) -> AsyncIterator[tuple[ServedChat, ServedChat]]:
    """Two chat processes' worth of apps on one PostgreSQL database and one RabbitMQ
    vhost of their own, each served on its own port."""
    vhost_url, drop_vhost = create_throwaway_vhost(amqp_url, prefix="ma_chat_test")
    peer = files.client()
    settings = chat_settings(postgres_url, amqp_url=vhost_url)
    apps = [create_app(settings, jwks_source=SIGNER.jwks_source, peers={"files": peer})
            for _ in range(2)]
    try:
        async with serve_over_tcp(apps[0]) as first, serve_over_tcp(apps[1]) as second, \
                httpx.AsyncClient(base_url=f"http://{first}") as client_1, \
                httpx.AsyncClient(base_url=f"http://{second}") as client_2:
            served = (ServedChat(apps[0], first, client_1), ServedChat(apps[1], second, client_2))
            yield served
            for replica in served:
                await replica.close()
    finally:
        await peer.aclose()
        drop_vhost()
