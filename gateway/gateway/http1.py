"""A small keep-alive HTTP/1.1 client for the proxy hop, on asyncio protocols + httptools.

Why not httpx or aiohttp: measured in ``bench/gateway_upstream_clients.py`` — on the
hot path their per-request overhead (request/response objects, pool bookkeeping,
header normalisation) is several times the cost of the whole rest of the gateway.
This client does only what a reverse proxy needs: write a request head and body on
a pooled connection, parse the response with httptools (the parser uvicorn uses),
hand back the status, the raw headers and the body chunks as they arrive.

One :class:`ConnectionPool` per upstream base URL keeps idle connections (LIFO, so
the warmest connection is reused); a connection goes back to the pool only when its
response was read to the end and the upstream allowed keep-alive.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from urllib.parse import urlsplit

import httptools

_HIGH_WATER = 256 * 1024


class UpstreamConnectError(Exception):
    """The upstream could not be reached (refused, unresolvable, connect timeout)."""


class UpstreamClosed(Exception):
    """The upstream closed the connection before a complete response."""


class UpstreamProtocolError(Exception):
    """The upstream answered something that is not HTTP/1.1."""


class ResponseTimeout(Exception):
    """No response head arrived within the timeout."""


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; serves one request at a time."""

    __slots__ = (
        "transport", "closed", "_parser", "_status", "_headers", "_keep_alive", "_head",
        "_chunks", "_buffered", "_body_waiter", "_complete", "_error", "_paused",
        "_loop", "_received_any", "reused",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self._reset()

    def _reset(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._keep_alive = False
        self._head: asyncio.Future[None] | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._body_waiter: asyncio.Future[None] | None = None
        self._complete = False
        self._error: BaseException | None = None
        self._paused = False
        self._received_any = False

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self._received_any = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(str(exc)))
            self.close()

    def eof_received(self) -> bool | None:
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self._complete:
            self._fail(UpstreamClosed("upstream closed the connection"))

    # -- httptools callbacks ----------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self._keep_alive = self._parser.should_keep_alive()
        head = self._head
        if head is not None and not head.done():
            head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake_body()

    def on_message_complete(self) -> None:
        self._complete = True
        self._wake_body()

    # -- internals --------------------------------------------------------------------

    def _wake_body(self) -> None:
        waiter = self._body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        for waiter in (self._head, self._body_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # -- request/response API ---------------------------------------------------------

    def start(self) -> asyncio.Future[None]:
        """Prepare for a new response; returns the future resolved when its head arrives."""
        if self.reused:
            self._reset()
        self._head = self._loop.create_future()
        return self._head

    def write(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            raise UpstreamClosed("upstream connection is closed")
        self.transport.write(data)

    @property
    def received_any(self) -> bool:
        return self._received_any

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return self._headers

    @property
    def complete(self) -> bool:
        return self._complete

    @property
    def keep_alive(self) -> bool:
        return self._keep_alive

    def take_buffered_body(self) -> bytes:
        """Everything received so far (the whole body once ``complete``)."""
        chunks = self._chunks
        if not chunks:
            return b""
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    async def next_body_chunk(self) -> bytes | None:
        """The next part of the body, or ``None`` after the last part."""
        while True:
            if self._chunks:
                return self.take_buffered_body()
            if self._complete:
                return None
            if self._error is not None:
                raise self._error
            self._body_waiter = self._loop.create_future()
            try:
                await self._body_waiter
            finally:
                self._body_waiter = None


class ConnectionPool:
    """Keep-alive connections to one upstream base URL."""

    def __init__(self, base_url: str, *, max_idle: int = 64, connect_timeout: float = 5.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) base URL: {base_url!r}")
        self.base_url = base_url
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if parts.scheme == "https" else None)
        self.path_prefix = parts.path.rstrip("/").encode()
        self.host_header = parts.netloc.encode()
        self._idle: deque[Connection] = deque()
        self._max_idle = max_idle
        self._connect_timeout = connect_timeout

    async def acquire(self) -> Connection:
        idle = self._idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return await self.connect()

    async def connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, protocol = await loop.create_connection(
                    lambda: Connection(loop), self.host, self.port, ssl=self.ssl)
        except (OSError, TimeoutError) as exc:
            raise UpstreamConnectError(f"{self.base_url}: {exc}") from exc
        return protocol

    def release(self, conn: Connection) -> None:
        """Give ``conn`` back if it can carry another request, else close it."""
        if conn.closed or not conn.complete or not conn.keep_alive or conn.transport is None \
                or len(self._idle) >= self._max_idle:
            conn.close()
            return
        conn.reused = True
        self._idle.append(conn)

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
