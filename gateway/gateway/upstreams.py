"""Where a service lives: over HTTP (round-robin over base URLs) or in this process.

Both kinds take an ASGI ``scope`` already rewritten for the service (path, headers),
the client's ``receive`` and a ``send`` that goes back to the client, so the proxy
treats them the same. They raise :class:`UpstreamError` subclasses *before* any
response byte was sent when the service is down, slow or broken; the proxy turns
those into the contract's JSON 502/503/504.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.http1 import (
    ConnectionPool,
    ResponseTimeout,
    UpstreamClosed,
    UpstreamConnectError,
    UpstreamProtocolError,
)

log = logging.getLogger("gateway.upstreams")

# Response headers that describe the upstream connection, not the response.
_HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"te",
    b"trailer", b"upgrade", b"proxy-authenticate",
})


class UpstreamError(Exception):
    """The service could not produce a response; ``status`` is what the client gets."""

    status = 502
    kind = "bad_response"

    def __init__(self, service: str, detail: str = "") -> None:
        super().__init__(detail or service)
        self.service = service
        self.detail = detail

    @property
    def message(self) -> str:
        return f"Bad gateway: {self.service}"


class UpstreamUnavailable(UpstreamError):
    status = 503
    kind = "unavailable"

    @property
    def message(self) -> str:
        return f"Service unavailable: {self.service}"


class UpstreamTimeout(UpstreamError):
    status = 504
    kind = "timeout"

    @property
    def message(self) -> str:
        return f"Service timed out: {self.service}"


class BadUpstreamResponse(UpstreamError):
    pass


class ClientGone(Exception):
    """The client disconnected (or its body went over the limit) while we forwarded it."""


class Upstream(Protocol):
    name: str

    async def handle_http(self, scope: Scope, receive: Receive, send: Send) -> None: ...

    async def handle_websocket(self, scope: Scope, receive: Receive, send: Send) -> None: ...

    async def aclose(self) -> None: ...


class MissingUpstream:
    """A service that is not deployed: every request is a 503."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def handle_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise UpstreamUnavailable(self.name, "not configured")

    async def handle_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise UpstreamUnavailable(self.name, "not configured")

    async def aclose(self) -> None:
        return None


class LocalUpstream:
    """A service whose ASGI app runs in this process (embedded mode): called directly."""

    def __init__(self, name: str, app: ASGIApp, *, timeout: float = 30.0) -> None:
        self.name = name
        self.app = app
        self.timeout = timeout
        # What the app's lifespan put in its state (embedded mode): each request sees a copy.
        self.state: dict[str, Any] = {}

    async def handle_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.state:
            scope["state"] = self.state.copy()
        started = False

        async def send_and_mark(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                deadline.reschedule(None)  # streaming may take as long as it takes
            await send(message)

        try:
            async with asyncio.timeout(self.timeout) as deadline:
                await self.app(scope, receive, send_and_mark)
        except TimeoutError as exc:
            if started:
                raise
            raise UpstreamTimeout(self.name) from exc
        except (ClientGone, asyncio.CancelledError):
            raise
        except Exception as exc:
            if started:  # the app already answered (e.g. its own 500) and re-raised
                log.warning("in-process service raised after responding",
                            extra={"event": "upstream_error", "upstream": self.name},
                            exc_info=True)
                return
            raise BadUpstreamResponse(self.name, repr(exc)) from exc
        if not started:
            raise BadUpstreamResponse(self.name, "no response")

    async def handle_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.state:
            scope["state"] = self.state.copy()
        await self.app(scope, receive, send)

    async def aclose(self) -> None:
        return None


class HttpUpstream:
    """A service reached over HTTP/1.1 keep-alive, round-robin over its base URLs."""

    def __init__(self, name: str, base_urls: list[str], *, timeout: float = 30.0,
                 connect_timeout: float = 5.0, max_idle: int = 64) -> None:
        if not base_urls:
            raise ValueError("at least one base URL")
        self.name = name
        self.base_urls = base_urls
        self.pools = [ConnectionPool(url, max_idle=max_idle, connect_timeout=connect_timeout)
                      for url in base_urls]
        self._next = itertools.cycle(self.pools).__next__
        self.timeout = timeout

    def next_pool(self) -> ConnectionPool:
        return self._next()

    async def handle_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        pool = self._next()
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone()
        body: bytes = message.get("body", b"")
        more_body: bool = message.get("more_body", False)
        head = _request_head(scope, pool, body, more_body)

        conn = await self._acquire(pool)
        try:
            try:
                await self._send_request(conn, head, body, more_body, receive)
            except UpstreamClosed:
                if not (conn.reused and not more_body and not conn.received_any):
                    raise
                # A kept-alive connection the upstream had already closed: retry on a new one.
                conn.close()
                conn = await self._connect(pool)
                await self._send_request(conn, head, body, more_body, receive)
            await self._relay_response(conn, scope, send)
        except UpstreamClosed as exc:
            conn.close()
            raise BadUpstreamResponse(self.name, str(exc)) from exc
        except UpstreamProtocolError as exc:
            conn.close()
            raise BadUpstreamResponse(self.name, str(exc)) from exc
        except ResponseTimeout as exc:
            conn.close()
            raise UpstreamTimeout(self.name) from exc
        except BaseException:
            conn.close()
            raise
        pool.release(conn)

    async def _acquire(self, pool: ConnectionPool) -> Any:
        try:
            return await pool.acquire()
        except UpstreamConnectError as exc:
            raise UpstreamUnavailable(self.name, str(exc)) from exc

    async def _connect(self, pool: ConnectionPool) -> Any:
        try:
            return await pool.connect()
        except UpstreamConnectError as exc:
            raise UpstreamUnavailable(self.name, str(exc)) from exc

    async def _send_request(self, conn: Any, head: bytes, body: bytes, more_body: bool,
                            receive: Receive) -> None:
        head_ready = conn.start()
        if not more_body:
            conn.write(head + body if body else head)
        else:
            chunked = _is_chunked(head)
            conn.write(head)
            if body:
                conn.write(_chunk(body) if chunked else body)
            while more_body:
                message = await receive()
                if message["type"] != "http.request":
                    raise ClientGone()
                body = message.get("body", b"")
                more_body = message.get("more_body", False)
                if body:
                    conn.write(_chunk(body) if chunked else body)
                if conn.transport is not None and conn.transport.get_write_buffer_size() > 1 << 20:
                    await _drain(conn)
            if chunked:
                conn.write(b"0\r\n\r\n")
        # Wait for the head, cheaply bounded by a timer instead of asyncio.wait_for.
        if not head_ready.done():
            loop = asyncio.get_running_loop()
            timer = loop.call_later(self.timeout, _expire, head_ready)
            try:
                await head_ready
            finally:
                timer.cancel()
        else:
            head_ready.result()

    async def _relay_response(self, conn: Any, scope: Scope, send: Send) -> None:
        headers = [(k, v) for k, v in conn.headers if k not in _HOP_BY_HOP]
        if scope["method"] == "HEAD":
            await send({"type": "http.response.start", "status": conn.status,
                        "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            conn.close()  # the parser cannot know the HEAD response has no body
            return
        if conn.complete:
            body = conn.take_buffered_body()
            await send({"type": "http.response.start", "status": conn.status,
                        "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": conn.status, "headers": headers})
        while True:
            try:
                chunk = await conn.next_body_chunk()
            except (UpstreamClosed, UpstreamProtocolError):
                conn.close()
                # The head is gone already: all we can do is end the response early.
                await send({"type": "http.response.body", "body": b""})
                return
            if chunk is None:
                await send({"type": "http.response.body", "body": b""})
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def handle_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        from gateway.websocket_proxy import proxy_websocket_over_tcp

        pool = self._next()
        await proxy_websocket_over_tcp(self.name, pool.base_url, scope, receive, send)

    async def aclose(self) -> None:
        for pool in self.pools:
            pool.close()


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(ResponseTimeout())


async def _drain(conn: Any) -> None:
    while conn.transport is not None and conn.transport.get_write_buffer_size() > 1 << 18:
        if conn.closed:
            raise UpstreamClosed("upstream closed while we sent the body")
        await asyncio.sleep(0.001)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def _is_chunked(head: bytes) -> bool:
    return b"\r\ntransfer-encoding: chunked\r\n" in head


def _request_head(scope: Scope, pool: ConnectionPool, body: bytes, more_body: bool) -> bytes:
    """The request line and headers; ``scope["headers"]`` is already cleaned by the proxy."""
    path = scope.get("raw_path") or scope["path"].encode()
    if pool.path_prefix:
        path = pool.path_prefix + path
    qs = scope.get("query_string", b"")
    target = path + b"?" + qs if qs else path
    parts = [scope["method"].encode(), b" ", target, b" HTTP/1.1\r\n"]
    content_length: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            content_length = value
            continue
        parts += (name, b": ", value, b"\r\n")
    if not more_body:
        if body or content_length is not None or scope["method"] in ("POST", "PUT", "PATCH"):
            parts.append(b"content-length: %d\r\n" % len(body))
    elif content_length is not None:
        parts += (b"content-length: ", content_length, b"\r\n")
    else:
        parts.append(b"transfer-encoding: chunked\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


# -- small in-gateway calls (JWKS, OpenAPI, readiness) ------------------------------------

async def fetch(upstream: Upstream, path: str, *, method: str = "GET",
                headers: list[tuple[bytes, bytes]] | None = None,
                timeout_seconds: float = 5.0) -> tuple[int, bytes]:
    """Call ``upstream`` from inside the gateway; returns ``(status, body)``."""
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "method": method, "scheme": "http", "path": path,
        "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(b"host", b"gateway"), *(headers or [])],
        "client": ("127.0.0.1", 0), "server": ("gateway", 80), "state": {},
    }
    sent_request = False

    async def receive() -> Message:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # nothing more to send; wait until cancelled
        return {"type": "http.disconnect"}

    status = 0
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    async with asyncio.timeout(timeout_seconds):
        await upstream.handle_http(scope, receive, send)
    return status, b"".join(chunks)


async def fetch_json(upstream: Upstream, path: str, *, timeout_seconds: float = 5.0) -> Any:
    status, body = await fetch(upstream, path, timeout_seconds=timeout_seconds)
    if status != 200:
        raise BadUpstreamResponse(upstream.name, f"{path} answered {status}")
    return json.loads(body)


def build_upstreams(
    services: list[str] | tuple[str, ...],
    urls_for: Callable[[str], list[str]],
    local_apps: Mapping[str, ASGIApp] | None,
    *,
    timeout: float,
    connect_timeout: float,
    max_idle: int,
) -> dict[str, Upstream]:
    """One upstream per service: in-process when its app is given, else HTTP, else missing."""
    upstreams: dict[str, Upstream] = {}
    for service in services:
        if local_apps and service in local_apps:
            upstreams[service] = LocalUpstream(service, local_apps[service], timeout=timeout)
        elif urls := urls_for(service):
            upstreams[service] = HttpUpstream(service, urls, timeout=timeout,
                                              connect_timeout=connect_timeout, max_idle=max_idle)
        else:
            upstreams[service] = MissingUpstream(service)
    return upstreams


JwksFetcher = Callable[[], Awaitable[dict]]
