"""Connections to one upstream base URL: bounded, recycled, spread over its addresses.

- **Bounded.** At most ``max_connections`` are open (idle or busy). A request that finds
  none free waits, first come first served, up to ``pool_timeout``; then
  :class:`PoolTimeout`, which the gateway answers 503 with ``Retry-After``.
- **Recycled.** A connection is retired after ``max_age`` seconds or ``max_requests``
  requests, and an idle one after ``idle_timeout`` (below uvicorn's 5 s keep-alive, so the
  gateway, not the service, is the side that closes it: a request is never written into a
  connection the service is closing). New connections are what let a replica that joined
  behind a Kubernetes Service or a load balancer take its share of the traffic.
- **Re-resolved.** The host name is looked up again every ``resolve_interval`` seconds
  and new connections go round-robin over its addresses (Docker's DNS or a headless
  Service lists one address per replica).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.http1 import Connection

Resolver = Callable[[str, int], Awaitable[list[str]]]


class UpstreamConnectError(Exception):
    """The upstream could not be reached (refused, unresolvable)."""


class ConnectTimeout(Exception):
    """No TCP (and TLS) connection within the connect timeout."""


class PoolTimeout(Exception):
    """Every connection stayed busy for the whole pool timeout."""


@dataclass(frozen=True)
class PoolLimits:
    max_connections: int = 256
    max_idle: int = 64
    pool_timeout: float = 5.0
    connect_timeout: float = 5.0
    idle_timeout: float = 4.0
    max_age: float = 10.0
    max_requests: int = 1000
    resolve_interval: float = 5.0


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` has now, in the resolver's order, without duplicates."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class ConnectionPool:
    """Keep-alive connections to one upstream base URL.

    Each :meth:`acquire` is matched by exactly one :meth:`release` (the response was read
    to the end) or :meth:`discard` (anything else); both free the connection's slot.
    """

    def __init__(self, base_url: str, limits: PoolLimits | None = None, *,
                 resolver: Resolver = resolve) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) base URL: {base_url!r}")
        self.base_url = base_url
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if parts.scheme == "https" else None)
        self.path_prefix = parts.path.rstrip("/").encode()
        self.limits = limits or PoolLimits()
        self._resolver = resolver
        self._addresses: list[str] = [self.host] if _is_ip(self.host) else []
        self._resolved_at = float("-inf")
        self._next_address = 0
        self._idle: deque[Connection] = deque()
        self._open = 0  # idle + busy + being connected
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()

    @property
    def open_connections(self) -> int:
        return self._open

    async def acquire(self, *, fresh: bool = False) -> Connection:
        """An idle connection (the warmest) or a new one; ``fresh`` skips the idle ones."""
        now = asyncio.get_running_loop().time()
        idle = self._idle
        while idle and not fresh:
            conn = idle.pop()
            if self._usable(conn, now) and now - conn.idle_since < self.limits.idle_timeout:
                return conn
            self._retire(conn)
        while self._open >= self.limits.max_connections:
            handed = await self._wait()
            if handed is not None:
                return handed
        self._open += 1
        try:
            return await self._connect()
        except BaseException:
            self._free_slot()
            raise

    def release(self, conn: Connection) -> None:
        """Give back ``conn`` after a complete response: reused if it may carry another."""
        now = asyncio.get_running_loop().time()
        if not (conn.complete and conn.keep_alive and self._usable(conn, now)):
            self._retire(conn)
            return
        conn.reused = True
        if self._wake_one(conn):
            return
        if len(self._idle) >= self.limits.max_idle:
            self._retire(conn)
            return
        conn.idle_since = now
        self._idle.append(conn)

    def discard(self, conn: Connection) -> None:
        """Close ``conn`` (its response was cut short, failed or timed out)."""
        self._retire(conn)

    def close(self) -> None:
        while self._idle:
            self._retire(self._idle.pop())

    # -- internals ------------------------------------------------------------------------

    def _usable(self, conn: Connection, now: float) -> bool:
        return (not conn.closed and conn.transport is not None
                and conn.requests < self.limits.max_requests
                and now - conn.created_at < self.limits.max_age)

    def _retire(self, conn: Connection) -> None:
        conn.close()
        self._free_slot()

    def _free_slot(self) -> None:
        self._open -= 1
        self._wake_one(None)  # a slot is free: the longest waiter connects

    async def _wait(self) -> Connection | None:
        """A connection handed over by :meth:`release`, or ``None`` when a slot was freed."""
        waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.limits.pool_timeout):
                return await waiter
        except BaseException as exc:
            if not waiter.done():
                waiter.cancel()
            elif waiter.cancelled():
                pass  # cancelled with us, before anything was handed over
            elif (handed := waiter.result()) is not None:
                self.release(handed)  # handed over just as we gave up: the next one takes it
            else:
                self._wake_one(None)
            if isinstance(exc, TimeoutError):
                raise PoolTimeout(f"{self.base_url}: all {self.limits.max_connections} "
                                  f"connections busy for {self.limits.pool_timeout} s") from None
            raise

    def _wake_one(self, conn: Connection | None) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return True
        return False

    async def _connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.limits.connect_timeout):
                addresses = await self._current_addresses(loop.time())
                error: OSError | None = None
                for _ in range(len(addresses)):
                    address = addresses[self._next_address % len(addresses)]
                    self._next_address += 1
                    try:
                        _, protocol = await loop.create_connection(
                            lambda: Connection(loop), address, self.port, ssl=self.ssl,
                            server_hostname=self.host if self.ssl else None)
                        return protocol
                    except OSError as exc:  # this replica is gone: try the next address
                        error = exc
                raise UpstreamConnectError(f"{self.base_url}: {error}")
        except TimeoutError as exc:
            raise ConnectTimeout(f"{self.base_url}: no connection within "
                                 f"{self.limits.connect_timeout} s") from exc

    async def _current_addresses(self, now: float) -> list[str]:
        if _is_ip(self.host) or now - self._resolved_at < self.limits.resolve_interval:
            return self._addresses
        try:
            found = await self._resolver(self.host, self.port)
        except OSError as exc:
            if not self._addresses:
                raise UpstreamConnectError(f"{self.base_url}: {exc}") from exc
            found = self._addresses  # keep what worked until the resolver answers again
        self._addresses, self._resolved_at = found, now
        if not found:
            raise UpstreamConnectError(f"{self.base_url}: {self.host} has no address")
        return found


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
