"""This process's open sockets: whom each one is for, and how frames reach it.

**Index.** User id -> that user's sockets, plus the set of support staff sockets. A
frame for a thread goes to its owner's sockets and to every staff socket.

**Sending.** Every socket has its own backlog of encoded frames and, only while that
backlog is not empty, a writer task draining it. Pushing a frame never waits, so one
socket that reads slowly delays nobody else. A socket whose backlog grows past
``backlog_limit`` frames, or that takes longer than ``send_timeout`` to accept one
frame, is dropped: out of the index at once (it costs nothing more), its backlog
discarded, and a close (``1013``) attempted for at most ``send_timeout``.

**Memory.** 5,000 sockets on one process: a :class:`Connection` has ``__slots__`` and
holds four references when idle; the backlog and the writer task exist only while
frames are waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Protocol

from prometheus_client import Gauge

log = logging.getLogger("chat.connections")

CLOSE_TOO_SLOW = 1013  # "try again later": the client may reconnect and catch up over REST

OPEN_SOCKETS = Gauge("chat_websocket_connections", "Chat sockets open in this process")


class FrameSocket(Protocol):
    """What the registry needs of a socket (Starlette's ``WebSocket`` has it)."""

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Connection:
    """One open socket of one user: the frames waiting for it and who drains them."""

    __slots__ = ("socket", "user_id", "staff", "open", "_registry", "_backlog", "_writer")

    def __init__(self, registry: ConnectionRegistry, socket: FrameSocket, user_id: str,
                 staff: bool) -> None:
        self.socket = socket
        self.user_id = user_id
        self.staff = staff
        self.open = True
        self._registry = registry
        self._backlog: deque[str] | None = None
        self._writer: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> bool:
        """Whether frames are queued for this socket, not yet handed to it."""
        return self._backlog is not None

    def push(self, frame: str) -> None:
        """Queue ``frame`` (encoded JSON) for this socket; never waits."""
        if not self.open:
            return
        if self._backlog is None:
            self._backlog = deque((frame,))
            self._writer = asyncio.create_task(self._drain())
        elif len(self._backlog) >= self._registry.backlog_limit:
            log.warning("socket too slow, dropped", extra={
                "event": "chat.socket_dropped", "reason": "backlog", "userId": self.user_id})
            self._registry.drop(self, CLOSE_TOO_SLOW, "Too slow")
        else:
            self._backlog.append(frame)

    async def _drain(self) -> None:
        backlog = self._backlog
        try:
            while backlog:
                async with asyncio.timeout(self._registry.send_timeout):
                    await self.socket.send_text(backlog[0])
                backlog.popleft()
        except TimeoutError:
            log.warning("socket too slow, dropped", extra={
                "event": "chat.socket_dropped", "reason": "timeout", "userId": self.user_id})
            self._writer = None  # finishing here; drop() must not cancel this very task
            self._registry.drop(self, CLOSE_TOO_SLOW, "Too slow")
        except Exception:
            # The client is gone; its endpoint sees the disconnect and cleans up too.
            self._registry.remove(self)
        finally:
            self._backlog = None
            self._writer = None

    def _discard_backlog(self) -> None:
        writer, self._writer, self._backlog = self._writer, None, None
        if writer is not None:
            writer.cancel()


class ConnectionRegistry:
    """The sockets of this process, indexed by user, and the staff sockets."""

    def __init__(self, *, send_timeout: float = 5.0, backlog_limit: int = 256) -> None:
        self.send_timeout = send_timeout
        self.backlog_limit = backlog_limit
        self._by_user: dict[str, set[Connection]] = {}
        self._staff: set[Connection] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self._count = 0
        self.opened_total = 0
        self.closed_total = 0

    def __len__(self) -> int:
        return self._count

    def add(self, socket: FrameSocket, user_id: str, *, staff: bool) -> Connection:
        """Register an accepted socket of ``user_id``."""
        connection = Connection(self, socket, user_id, staff)
        self._by_user.setdefault(user_id, set()).add(connection)
        if staff:
            self._staff.add(connection)
        self._count += 1
        self.opened_total += 1
        OPEN_SOCKETS.inc()
        return connection

    def remove(self, connection: Connection) -> None:
        """Forget ``connection`` (idempotent): it receives nothing more."""
        if not connection.open:
            return
        connection.open = False
        sockets = self._by_user.get(connection.user_id)
        if sockets is not None:
            sockets.discard(connection)
            if not sockets:
                del self._by_user[connection.user_id]
        self._staff.discard(connection)
        self._count -= 1
        self.closed_total += 1
        OPEN_SOCKETS.dec()

    def drop(self, connection: Connection, code: int, reason: str) -> None:
        """Remove ``connection``, discard what waits for it and close it with ``code``."""
        was_open = connection.open
        self.remove(connection)
        connection._discard_backlog()
        if was_open:
            task = asyncio.create_task(self._close(connection.socket, code, reason))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _close(self, socket: FrameSocket, code: int, reason: str) -> None:
        # A socket that does not read cannot take a close frame either; uvicorn's
        # heartbeat reclaims its transport then (see the README, "Heartbeats").
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.send_timeout):
                await socket.close(code, reason)

    def push_to_thread(self, owner_id: str, frame: str, *,
                       skip: Connection | None = None) -> int:
        """Queue ``frame`` for every socket of ``owner_id`` and of support staff, except
        ``skip``; returns how many sockets it was queued for."""
        owners = self._by_user.get(owner_id)
        # A snapshot: pushing may drop a socket, which changes the sets.
        targets = list(owners) if owners else []
        targets.extend(c for c in self._staff if c.user_id != owner_id)
        pushed = 0
        for connection in targets:
            if connection is not skip:
                connection.push(frame)
                pushed += 1
        return pushed

    async def aclose(self) -> None:
        """Stop the close attempts still running (shutdown)."""
        tasks = list(self._closing)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
