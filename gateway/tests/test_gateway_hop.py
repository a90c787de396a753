"""The upstream hop: what is re-sent, the pool's bound, the deadlines, recycling, re-resolving.

Every upstream here is a real server on a real socket: uvicorn stand-ins, or raw asyncio
servers where a service must misbehave in a way uvicorn would not (die mid-request, stall).
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.tests.conftest import JWKS, StandIn, bearer, no_upstreams
from shared.tokens import static_jwks_source


class DyingService:
    """Answers the first request of each connection, then reads the next one and closes the
    connection without answering: a replica that committed the request and died."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str, str]] = []  # (connection, method, path)
        self._connections = itertools.count(1)

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = next(self._connections)
        try:
            for served in itertools.count():
                head = await reader.readuntil(b"\r\n\r\n")
                method, path = head.decode().split(" ")[:2]
                length = next((int(line.split(":")[1]) for line in head.decode().split("\r\n")
                               if line.lower().startswith("content-length:")), 0)
                await reader.readexactly(length)
                self.seen.append((connection, method, path))
                if served:
                    return
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return  # cancelled: the test is over and its loop closing
        finally:
            writer.close()


@pytest.fixture
async def dying_service() -> AsyncIterator[tuple[DyingService, str]]:
    service = DyingService()
    server = await asyncio.start_server(service, "127.0.0.1", 0)
    yield service, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()


async def _tcp_gateway(serve: Any, **settings: Any) -> httpx.AsyncClient:
    """A gateway on uvicorn (whose GETs carry no body, unlike httpx's in-memory transport)."""
    gateway = await serve(create_app(no_upstreams(**settings),
                                     jwks_source=static_jwks_source(JWKS)))
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}")


async def test_a_post_is_not_resent_when_its_reused_connection_closes(
        serve: Any, dying_service: tuple[DyingService, str]) -> None:
    service, url = dying_service
    async with await _tcp_gateway(serve, upstream_vehicles=url) as client:
        assert (await client.get("/api/vehicles/", headers=bearer())).status_code == 200
        response = await client.post("/api/vehicles/", headers=bearer(), json={"vin": "V1"})
    assert response.status_code == 502
    assert response.json() == {"error": "Bad gateway: vehicles"}
    assert [s for s in service.seen if s[1] == "POST"] == [(1, "POST", "/api/vehicles/")]


async def test_a_get_is_resent_once_on_a_new_connection(
        serve: Any, dying_service: tuple[DyingService, str]) -> None:
    service, url = dying_service
    async with await _tcp_gateway(serve, upstream_vehicles=url) as client:
        assert (await client.get("/api/vehicles/", headers=bearer())).status_code == 200
        response = await client.get("/api/vehicles/abc/", headers=bearer())
    assert response.status_code == 200
    assert [s for s in service.seen if s[2] == "/api/vehicles/abc/"] == [
        (1, "GET", "/api/vehicles/abc/"), (2, "GET", "/api/vehicles/abc/")]


# -- the pool's bound ---------------------------------------------------------------------

async def test_past_the_pool_bound_a_request_waits_then_gets_503(gateway_client: Any,
                                                                  serve: Any) -> None:
    service = StandIn(delay=1.0)
    server = await serve(service)
    async with gateway_client(upstream_vehicles=server.url, upstream_max_connections=2,
                              upstream_pool_timeout_seconds=0.1) as client:
        responses = await asyncio.gather(*[client.get("/api/vehicles/", headers=bearer())
                                           for _ in range(4)])
    assert sorted(r.status_code for r in responses) == [200, 200, 503, 503]
    refused = [r for r in responses if r.status_code == 503]
    assert all(r.json() == {"error": "Service unavailable: vehicles"} for r in refused)
    assert all(r.headers["Retry-After"] == "2" for r in refused)
    assert len(service.requests) == 2


async def test_waiting_requests_take_the_connections_in_turn(gateway_client: Any,
                                                             serve: Any) -> None:
    service = StandIn(delay=0.02)
    server = await serve(service)
    async with gateway_client(upstream_vehicles=server.url, upstream_max_connections=1,
                              upstream_pool_timeout_seconds=30) as client:
        responses = await asyncio.gather(*[client.get("/api/vehicles/", headers=bearer())
                                           for _ in range(10)])
    assert [r.status_code for r in responses] == [200] * 10
    assert len({r["client"] for r in service.requests}) == 1  # one connection, handed over


# -- deadlines ----------------------------------------------------------------------------

@pytest.fixture
def unaccepting_port() -> Any:
    """A port whose accept queue is full: a connect there hangs, as to a host that is gone."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    yield port
    for sock in [*fillers, listener]:
        sock.close()


async def test_connect_deadline_is_504(gateway_client: Any, unaccepting_port: int) -> None:
    async with gateway_client(upstream_vehicles=f"http://127.0.0.1:{unaccepting_port}",
                              upstream_connect_timeout_seconds=0.3) as client:
        response = await client.get("/api/vehicles/", headers=bearer())
    assert response.status_code == 504
    assert response.json() == {"error": "Service timed out: vehicles"}


async def _slow_body_exchange(port: int, path: str, token: str | None) -> tuple[bytes, bytes]:
    """Send a request head and a third of its declared body, then nothing: (status line, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    writer.write(f"POST {path} HTTP/1.1\r\nHost: gw\r\n{auth}Content-Type: application/json\r\n"
                 f"Content-Length: 30\r\n\r\n{{\"email\": \"a@".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    body = await reader.readexactly(length)
    writer.close()
    return head.split(b"\r\n")[0], body


@pytest.mark.parametrize("mode", ["tcp", "in-process"])
@pytest.mark.parametrize("path", ["/api/vehicles/", "/api/auth/login/"])
async def test_a_body_that_does_not_arrive_in_time_is_408(serve: Any, mode: str,
                                                         path: str) -> None:
    service = StandIn()
    service_name = path.split("/")[2]
    if mode == "tcp":
        upstream = await serve(service)
        settings = no_upstreams(**{f"upstream_{service_name}": upstream.url},
                                request_body_timeout_seconds=0.3)
        local: dict[str, Any] = {}
    else:
        settings, local = no_upstreams(request_body_timeout_seconds=0.3), {service_name: service}
    gateway = await serve(create_app(settings, local, jwks_source=static_jwks_source(JWKS)))
    token = bearer()["Authorization"].split(" ")[1]
    status_line, body = await _slow_body_exchange(gateway.port, path, token)
    assert status_line == b"HTTP/1.1 408 Request Timeout"
    assert body == b'{"error": "Request body not received in time"}'
    assert service.requests == []  # the service never took the half body for a request


async def test_a_stream_that_stalls_is_cut_not_ended(serve: Any) -> None:
    release = asyncio.Event()

    async def stalling(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"first part", "more_body": True})
        await release.wait()
        await send({"type": "http.response.body", "body": b""})

    upstream = await serve(stalling)
    gateway = await serve(create_app(
        no_upstreams(upstream_files=upstream.url, upstream_stream_idle_timeout_seconds=0.3),
        jwks_source=static_jwks_source(JWKS)))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get("/api/files/x/", headers=bearer())
    finally:
        release.set()


# -- recycling ----------------------------------------------------------------------------

async def test_a_connection_is_retired_after_its_maximum_requests(gateway_client: Any,
                                                                  serve: Any) -> None:
    service = StandIn()
    server = await serve(service)
    async with gateway_client(upstream_vehicles=server.url,
                              upstream_connection_max_requests=3) as client:
        for _ in range(9):
            assert (await client.get("/api/vehicles/", headers=bearer())).status_code == 200
    assert list(Counter(r["client"] for r in service.requests).values()) == [3, 3, 3]


@pytest.mark.parametrize("setting", ["upstream_connection_max_age_seconds",
                                     "upstream_idle_timeout_seconds"])
async def test_a_connection_is_retired_when_too_old_or_idle_too_long(
        gateway_client: Any, serve: Any, setting: str) -> None:
    service = StandIn()
    server = await serve(service)
    async with gateway_client(upstream_vehicles=server.url, **{setting: 0.2}) as client:
        assert (await client.get("/api/vehicles/", headers=bearer())).status_code == 200
        await asyncio.sleep(0.3)
        assert (await client.get("/api/vehicles/", headers=bearer())).status_code == 200
    assert len({r["client"] for r in service.requests}) == 2
