"""A small keep-alive HTTP/1.1 client for the proxy hop, on asyncio protocols + httptools.

Why not httpx or aiohttp: measured in ``bench/gateway_upstream_clients.py`` — on the
hot path their per-request overhead (request/response objects, pool bookkeeping,
header normalisation) is several times the cost of the whole rest of the gateway.
This client does only what a reverse proxy needs: write a request head and body on
a pooled connection, parse the response with httptools (the parser uvicorn uses),
hand back the status, the raw headers and the body chunks as they arrive.

Pooling (bounds, recycling, re-resolving) is ``gateway.upstream_pool``'s; a connection
here only knows what it sent, what it received and how old it is.
"""

from __future__ import annotations

import asyncio
from collections import deque

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


class StreamIdle(Exception):
    """A response body stopped: no byte for longer than the stream idle timeout."""


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; serves one request at a time."""

    __slots__ = (
        "transport", "closed", "_parser", "_status", "_headers", "_keep_alive", "_head",
        "_chunks", "_buffered", "_body_waiter", "_complete", "_error", "_paused",
        "_loop", "_received_any", "_write_paused", "_drain_waiter", "reused",
        "created_at", "idle_since", "requests",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self.created_at = self.idle_since = loop.time()
        self.requests = 0
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
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
        self._wake_writer(UpstreamClosed("upstream closed while we sent the body"))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_writer(None)

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

    def _wake_writer(self, exc: BaseException | None) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

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
        self.requests += 1
        self._head = self._loop.create_future()
        return self._head

    def write(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            raise UpstreamClosed("upstream connection is closed")
        self.transport.write(data)

    async def drain(self) -> None:
        """Wait until the upstream has taken what was written (the transport's flow control)."""
        if self.closed:
            raise UpstreamClosed("upstream closed while we sent the body")
        if not self._write_paused:
            return
        self._drain_waiter = self._loop.create_future()
        try:
            await self._drain_waiter
        finally:
            self._drain_waiter = None

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

    async def next_body_chunk(self, idle_timeout: float) -> bytes | None:
        """The next part of the body, or ``None`` after the last part; :class:`StreamIdle`
        when none arrives within ``idle_timeout`` seconds."""
        while True:
            if self._chunks:
                return self.take_buffered_body()
            if self._complete:
                return None
            if self._error is not None:
                raise self._error
            waiter = self._body_waiter = self._loop.create_future()
            timer = self._loop.call_later(idle_timeout, expire, waiter, StreamIdle)
            try:
                await waiter
            finally:
                timer.cancel()
                self._body_waiter = None


def expire(future: asyncio.Future[None], exception: type[Exception]) -> None:
    """A timer's callback: fail ``future`` with ``exception`` unless it is done (cheaper on
    the hot path than ``asyncio.wait_for``)."""
    if not future.done():
        future.set_exception(exception())
