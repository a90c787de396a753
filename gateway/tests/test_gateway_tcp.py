"""The gateway over real TCP: uvicorn stand-in services, the keep-alive client, WebSockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve as ws_serve

from gateway.tests.conftest import StandIn, bearer, make_token
from shared.net import free_port


async def test_round_robin_across_two_upstream_urls(gateway_client: Any, serve: Any) -> None:
    first, second = StandIn("first"), StandIn("second")
    a, b = await serve(first), await serve(second)
    async with gateway_client(upstream_telematics=f"{a.url},{b.url}") as client:
        answers = [(await client.get("/api/telematics/v/summary/", headers=bearer())).json()
                   for _ in range(6)]
    assert [x["service"] for x in answers] == ["first", "second"] * 3
    assert len(first.requests) == len(second.requests) == 3


async def test_tcp_upstream_forwards_method_body_query_and_headers(gateway_client: Any,
                                                                   serve: Any) -> None:
    service = StandIn()
    server = await serve(service)
    async with gateway_client(upstream_vehicles=server.url) as client:
        response = await client.patch("/api/vehicles/abc?x=1&y=2", headers={
            **bearer(), "X-Request-ID": "rid-7", "Content-Type": "application/json",
            "X-User-Id": "forged"}, json={"odometer": 5})
        # The connection is kept alive and reused for the next requests.
        for _ in range(5):
            assert (await client.get("/api/vehicles/", headers=bearer())).status_code == 200
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "rid-7"
    seen = service.requests[0]
    assert (seen["method"], seen["path"], seen["query"]) == ("PATCH", "/api/vehicles/abc/",
                                                              "x=1&y=2")
    assert seen["body"] == b'{"odometer":5}'
    assert seen["headers"]["x-request-id"] == "rid-7"
    assert "x-user-id" not in seen["headers"]


async def test_tcp_upstream_large_streamed_response(gateway_client: Any, serve: Any) -> None:
    big = b"z" * (3 * 1024 * 1024)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream")]})
        for i in range(0, len(big), 65536):
            await send({"type": "http.response.body", "body": big[i:i + 65536],
                        "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    server = await serve(app)
    async with gateway_client(upstream_files=server.url) as client:
        response = await client.get("/api/files/x/", headers=bearer())
    assert response.status_code == 200
    assert response.content == big


async def test_tcp_upstream_chunked_upload_over_limit_is_413(gateway_client: Any,
                                                             serve: Any) -> None:
    service = StandIn()
    server = await serve(service)

    async def chunks() -> Any:
        for _ in range(50):
            yield b"q" * 1000

    async with gateway_client(upstream_vehicles=server.url, max_body_bytes=10_000) as client:
        response = await client.post("/api/vehicles/", content=chunks(), headers=bearer())
        ok = await client.post("/api/vehicles/", content=chunks(), headers=bearer(),
                               params={"again": "1"}) if False else None
    assert response.status_code == 413
    assert ok is None


async def test_tcp_upstream_slow_is_504(gateway_client: Any, serve: Any) -> None:
    server = await serve(StandIn(delay=1.0))
    async with gateway_client(upstream_vehicles=server.url,
                              upstream_timeout_seconds=0.2) as client:
        response = await client.get("/api/vehicles/", headers=bearer())
    assert response.status_code == 504
    assert response.json() == {"error": "Service timed out: vehicles"}


async def test_tcp_upstream_restarted_between_requests(gateway_client: Any, serve: Any) -> None:
    service = StandIn()
    server = await serve(service)
    async with gateway_client(upstream_vehicles=server.url) as client:
        assert (await client.get("/api/vehicles/", headers=bearer())).status_code == 200
        await server.stop()
        down = await client.get("/api/vehicles/", headers=bearer())
        assert down.status_code == 503
        assert down.json() == {"error": "Service unavailable: vehicles"}
        assert down.headers["Retry-After"] == "2"


async def test_tcp_upstream_garbage_response_is_502(gateway_client: Any) -> None:
    port = free_port()

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"this is not http\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", port)
    try:
        async with gateway_client(upstream_vehicles=f"http://127.0.0.1:{port}") as client:
            response = await client.get("/api/vehicles/", headers=bearer())
    finally:
        server.close()
    assert response.status_code == 502
    assert response.json() == {"error": "Bad gateway: vehicles"}


# -- WebSockets --------------------------------------------------------------------------

async def _echo_chat(websocket: Any) -> None:
    """A stand-in chat socket: echoes frames, tagged with what it was given."""
    await websocket.send(json.dumps({"type": "HELLO", "path": websocket.request.path,
                                     "subprotocol": websocket.subprotocol}))
    async for frame in websocket:
        if frame == "close-please":
            await websocket.close(4000, "bye")
            return
        await websocket.send(frame)


@pytest.fixture
async def gateway_with_chat(serve: Any, gateway_client: Any) -> Any:
    from gateway.app import create_app
    from gateway.tests.conftest import JWKS, no_upstreams
    from shared.tokens import static_jwks_source

    chat_port = free_port()
    chat = await ws_serve(_echo_chat, "127.0.0.1", chat_port,
                          select_subprotocol=lambda _, offered: "bearer" if "bearer" in offered
                          else None)
    app = create_app(no_upstreams(upstream_chat=f"http://127.0.0.1:{chat_port}"),
                     jwks_source=static_jwks_source(JWKS))
    gateway = await serve(app)
    yield f"ws://127.0.0.1:{gateway.port}"
    chat.close()
    await chat.wait_closed()


async def test_websocket_round_trip_with_query_token(gateway_with_chat: str) -> None:
    token = make_token()
    async with connect(f"{gateway_with_chat}/chat/ws?token={token}") as ws:
        hello = json.loads(await ws.recv())
        assert hello["path"] == f"/chat/ws?token={token}"
        await ws.send(json.dumps({"type": "SEND", "body": "hi"}))
        assert json.loads(await ws.recv()) == {"type": "SEND", "body": "hi"}
        await ws.send(b"\x00\x01binary")
        assert await ws.recv() == b"\x00\x01binary"
        await ws.send("close-please")
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 4000


async def test_websocket_token_as_subprotocol(gateway_with_chat: str) -> None:
    token = make_token()
    async with connect(f"{gateway_with_chat}/chat/ws",
                       subprotocols=["bearer", token]) as ws:  # type: ignore[list-item]
        hello = json.loads(await ws.recv())
        assert hello["subprotocol"] == "bearer"
        assert ws.subprotocol == "bearer"


@pytest.mark.parametrize("query", ["", "?token=garbage", f"?token={make_token(typ='refresh')}"])
async def test_websocket_bad_token_is_closed_4401(gateway_with_chat: str, query: str) -> None:
    async with connect(f"{gateway_with_chat}/chat/ws{query}") as ws:
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 4401


async def test_websocket_chat_not_deployed_closes_1013(serve: Any) -> None:
    from gateway.app import create_app
    from gateway.tests.conftest import JWKS, no_upstreams
    from shared.tokens import static_jwks_source

    gateway = await serve(create_app(no_upstreams(), jwks_source=static_jwks_source(JWKS)))
    async with connect(f"ws://127.0.0.1:{gateway.port}/chat/ws?token={make_token()}") as ws:
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 1013


async def test_websocket_to_in_process_chat(serve: Any) -> None:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute

    from gateway.app import create_app
    from gateway.tests.conftest import JWKS, no_upstreams
    from shared.tokens import static_jwks_source

    async def echo(websocket: Any) -> None:
        await websocket.accept()
        await websocket.send_text("in-process:" + await websocket.receive_text())
        await websocket.close()

    chat = Starlette(routes=[WebSocketRoute("/chat/ws", echo)])
    gateway = await serve(create_app(no_upstreams(), {"chat": chat},
                                     jwks_source=static_jwks_source(JWKS)))
    async with connect(f"ws://127.0.0.1:{gateway.port}/chat/ws?token={make_token()}") as ws:
        await ws.send("ping")
        assert await ws.recv() == "in-process:ping"
