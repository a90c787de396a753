"""A service reached over HTTP/1.1: one bounded pool per base URL, round-robin over them.

The deadlines of the hop, each its own setting: connecting (504), waiting for a free
connection (503), the response head (504) and silence in the middle of a streamed
response (the stream is cut: its head is gone, so the client sees a broken response, never
a short one that looks whole). The request body's deadline is the proxy's (408).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from gateway.http1 import (
    Connection,
    ResponseTimeout,
    StreamIdle,
    UpstreamClosed,
    UpstreamProtocolError,
    expire,
)
from gateway.upstream_pool import (
    ConnectionPool,
    ConnectTimeout,
    PoolLimits,
    PoolTimeout,
    Resolver,
    UpstreamConnectError,
    resolve,
)
from gateway.upstreams import (
    BadUpstreamResponse,
    ClientGone,
    UpstreamTimeout,
    UpstreamUnavailable,
)

# What may run twice without harm (RFC 9110, 9.2.2): only these are re-sent after a kept-alive
# connection turned out closed. A POST the dying service may have committed is answered 502.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

# Response headers that describe the upstream connection, not the response.
_HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"te",
    b"trailer", b"upgrade", b"proxy-authenticate",
})
_WRITE_HIGH_WATER = 1 << 20


class StreamCut(Exception):
    """A response whose head was sent could not be finished; the client connection is
    dropped so the client cannot take the part it got for the whole."""


@dataclass(frozen=True)
class HopTimeouts:
    response_head: float = 30.0
    stream_idle: float = 30.0


class HttpUpstream:
    """A service reached over HTTP/1.1 keep-alive, round-robin over its base URLs."""

    def __init__(self, name: str, base_urls: list[str], *, limits: PoolLimits | None = None,
                 timeouts: HopTimeouts | None = None, resolver: Resolver = resolve) -> None:
        if not base_urls:
            raise ValueError("at least one base URL")
        self.name = name
        self.pools = [ConnectionPool(url, limits or PoolLimits(), resolver=resolver)
                      for url in base_urls]
        self._next = itertools.cycle(self.pools).__next__
        self.timeouts = timeouts or HopTimeouts()

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
                if not _may_resend(conn, scope["method"], more_body):
                    raise
                # A kept-alive connection the service had closed: once more on a new one.
                pool.discard(conn)
                conn = await self._acquire(pool, fresh=True)
                await self._send_request(conn, head, body, more_body, receive)
            await self._relay_response(conn, scope, send)
        except (UpstreamClosed, UpstreamProtocolError) as exc:
            pool.discard(conn)
            raise BadUpstreamResponse(self.name, str(exc)) from exc
        except ResponseTimeout as exc:
            pool.discard(conn)
            raise UpstreamTimeout(self.name, "no response head in time") from exc
        except BaseException:
            pool.discard(conn)
            raise
        pool.release(conn)

    async def _acquire(self, pool: ConnectionPool, *, fresh: bool = False) -> Connection:
        try:
            return await pool.acquire(fresh=fresh)
        except UpstreamConnectError as exc:
            raise UpstreamUnavailable(self.name, str(exc)) from exc
        except PoolTimeout as exc:
            raise UpstreamUnavailable(self.name, str(exc), kind="pool_exhausted") from exc
        except ConnectTimeout as exc:
            raise UpstreamTimeout(self.name, str(exc), kind="connect_timeout") from exc

    async def _send_request(self, conn: Connection, head: bytes, body: bytes, more_body: bool,
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
                await self._drain(conn)
            if chunked:
                conn.write(b"0\r\n\r\n")
        if head_ready.done():
            head_ready.result()
            return
        timer = asyncio.get_running_loop().call_later(
            self.timeouts.response_head, expire, head_ready, ResponseTimeout)
        try:
            await head_ready
        finally:
            timer.cancel()

    async def _drain(self, conn: Connection) -> None:
        """Wait while the service does not read the body we stream to it."""
        if conn.transport is None or conn.transport.get_write_buffer_size() <= _WRITE_HIGH_WATER:
            return
        try:
            async with asyncio.timeout(self.timeouts.response_head):
                await conn.drain()
        except TimeoutError as exc:
            raise ResponseTimeout() from exc

    async def _relay_response(self, conn: Connection, scope: Scope, send: Send) -> None:
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
                chunk = await conn.next_body_chunk(self.timeouts.stream_idle)
            except (UpstreamClosed, UpstreamProtocolError, StreamIdle) as exc:
                raise StreamCut(f"{self.name}: {type(exc).__name__}: {exc}") from exc
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


def _may_resend(conn: Connection, method: str, more_body: bool) -> bool:
    """Whether a request that met a closed kept-alive connection may go out again."""
    return (conn.reused and not more_body and not conn.received_any
            and method in IDEMPOTENT_METHODS)


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
