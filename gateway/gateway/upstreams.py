"""Where a service lives: over HTTP (round-robin over base URLs) or in this process.

Both kinds take an ASGI ``scope`` already rewritten for the service (path, headers),
the client's ``receive`` and a ``send`` that goes back to the client, so the proxy
treats them the same. They raise :class:`UpstreamError` subclasses *before* any
response byte was sent when the service is down, slow or broken; the proxy turns
those into the contract's JSON 502/503/504.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("gateway.upstreams")

class UpstreamError(Exception):
    """The service could not produce a response; ``status`` is what the client gets."""

    status = 502
    kind = "bad_response"

    def __init__(self, service: str, detail: str = "", *, kind: str = "") -> None:
        super().__init__(detail or service)
        self.service = service
        self.detail = detail
        if kind:  # what metrics and logs call it, when more precise than the class's
            self.kind = kind

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
