"""Starting and stopping in-process services (embedded mode) with the gateway.

An ASGI server sends lifespan events only to the app it serves, the gateway; the
services' apps handed to it in ``local_apps`` get theirs from here: startup in order
before the gateway reports ready, shutdown in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.types import ASGIApp, Message

from gateway.upstreams import LocalUpstream

log = logging.getLogger("gateway.lifespan")


class _AppLifespan:
    def __init__(self, name: str, app: ASGIApp, state: dict[str, Any]) -> None:
        self.name = name
        self.app = app
        self.state = state
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._started: asyncio.Future[None] | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        loop = asyncio.get_running_loop()
        self._started = loop.create_future()
        self._stopped = loop.create_future()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": self.state}
        self._task = asyncio.create_task(self._run(scope))
        await self._inbox.put({"type": "lifespan.startup"})
        await self._started

    async def _run(self, scope: dict[str, Any]) -> None:
        try:
            await self.app(scope, self._inbox.get, self._send)
        except Exception as exc:
            if self._started is not None and not self._started.done():
                # An app without lifespan support raises on the unknown scope: fine.
                log.info("service has no lifespan", extra={"event": "no_lifespan",
                                                          "service": self.name,
                                                          "error": repr(exc)})
                self._started.set_result(None)
        finally:
            for future in (self._started, self._stopped):
                if future is not None and not future.done():
                    future.set_result(None)

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete" and self._started and not self._started.done():
            self._started.set_result(None)
        elif kind == "lifespan.startup.failed" and self._started and not self._started.done():
            self._started.set_exception(
                RuntimeError(f"{self.name} failed to start: {message.get('message', '')}"))
        elif kind.startswith("lifespan.shutdown") and self._stopped and not self._stopped.done():
            self._stopped.set_result(None)

    async def shutdown(self, grace_seconds: float = 10.0) -> None:
        if self._task is None or self._task.done():
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        assert self._stopped is not None
        try:
            async with asyncio.timeout(grace_seconds):
                await self._stopped
        except TimeoutError:
            log.warning("service shutdown timed out", extra={"event": "shutdown_timeout",
                                                           "service": self.name})
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


class LocalLifespans:
    """The lifespans of the in-process services (nothing to do when there are none)."""

    def __init__(self, upstreams: list[LocalUpstream], *, enabled: bool = True) -> None:
        self._apps = [_AppLifespan(u.name, u.app, u.state) for u in upstreams] if enabled else []

    async def startup(self) -> None:
        for app in self._apps:
            await app.startup()

    async def shutdown(self) -> None:
        for app in reversed(self._apps):
            await app.shutdown()
