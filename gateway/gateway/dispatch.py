"""The gateway's ASGI entry: request id, CORS, then dispatch by path.

``/api/<service prefix>/...`` goes to the proxy, ``/chat/ws`` to the WebSocket proxy,
the gateway's own endpoints (health, readiness, metrics, schema, docs) are answered
here, anything else is a JSON 404. Every HTTP response leaves with ``X-Request-ID``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping

from opentelemetry.trace import Tracer
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import docs
from gateway.exchange import Exchange, send_bytes
from gateway.lifespan import LocalLifespans
from gateway.observability import GatewayMetrics, readiness_body, upstream_states
from gateway.openapi import SchemaAggregator
from gateway.proxy import HttpProxy, is_forwardable
from gateway.routing import API_PREFIXES, WEBSOCKET_ROUTES, resolve_api
from gateway.upstreams import MissingUpstream, Upstream, UpstreamError
from gateway.websocket_proxy import (
    CLOSE_TRY_AGAIN_LATER,
    CLOSE_UNAUTHORIZED,
    accept_then_close,
    websocket_token,
)
from shared.errors import send_error
from shared.logging import request_id_var
from shared.tokens import AccessTokenVerifier, InvalidToken
from shared.tracing import TraceMiddleware

log = logging.getLogger("gateway")

_REQUEST_ID = b"x-request-id"
_NOT_FOUND = "Not found"


def _valid_request_id(value: bytes) -> bool:
    return 0 < len(value) <= 128 and value.isascii() and b"\r" not in value and b"\n" not in value


def _routed_prefix(scope: Scope) -> str | None:
    """The gateway's route of a request, for its span's name: ``/api/<segment>/*``."""
    path: str = scope["path"]
    segment = path[5:].partition("/")[0] if path.startswith("/api/") else ""
    return f"/api/{segment}/*" if segment in API_PREFIXES else None


class JsonCorsMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered in the contract's JSON (its own
    answer is text/plain)."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        headers = {name: value for name, value in response.headers.items()
                   if name not in ("content-type", "content-length")}
        return JSONResponse({"error": bytes(response.body).decode()},
                            status_code=response.status_code, headers=headers)


class Gateway:
    """The gateway's ASGI app (built by ``gateway.app.create_app``)."""

    def __init__(
        self,
        *,
        upstreams: Mapping[str, Upstream],
        verifier: AccessTokenVerifier,
        proxy: HttpProxy,
        metrics: GatewayMetrics,
        schema: SchemaAggregator,
        cors_origins: list[str],
        lifespans: LocalLifespans,
        readiness_timeout: float,
        tracer: Tracer | None = None,
    ) -> None:
        self.upstreams = upstreams
        self.verifier = verifier
        self.proxy = proxy
        self.metrics = metrics
        self.schema = schema
        self.lifespans = lifespans
        self.readiness_timeout = readiness_timeout
        self._cors: ASGIApp = JsonCorsMiddleware(
            self._dispatch_http,  # type: ignore[arg-type]
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
        # Chosen once: with tracing off, requests take the same path as before it existed.
        # On, the span's context replaces the client's trace headers before the proxy
        # copies them, so the service's span is the gateway's child.
        self._http_entry: ASGIApp = self._http
        if tracer is not None:
            self._http_entry = TraceMiddleware(self._http, tracer, route_of=_routed_prefix,
                                               forward=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http_entry(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    # -- HTTP -----------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = ""
        for name, value in scope["headers"]:
            if name == _REQUEST_ID:
                if _valid_request_id(value):
                    request_id = value.decode("ascii")
                break
        if not request_id:
            request_id = uuid.uuid4().hex
        request_id_var.set(request_id)
        exchange = Exchange(request_id, time.perf_counter())
        scope["gateway.exchange"] = exchange
        metrics = self.metrics

        async def send_with_request_id(message: Message) -> None:
            if exchange.discard:
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                exchange.status = status
                headers = [h for h in message.get("headers", ()) if h[0].lower() != _REQUEST_ID]
                headers.append((_REQUEST_ID, exchange.request_id_bytes))
                message = {"type": "http.response.start", "status": status, "headers": headers}
                metrics.observe(exchange.service, status, time.perf_counter() - exchange.started_at)
            await send(message)

        try:
            await self._cors(scope, receive, send_with_request_id)
        except Exception:
            # A bug of the gateway's own: the client still gets the contract's JSON, not
            # the server's text/plain 500 (once the head has gone, there is no fixing it).
            log.exception("unhandled error", extra={"event": "unhandled_error",
                                                    "path": scope["path"]})
            if exchange.status:
                raise
            await send_error(send_with_request_id, 500, "Internal server error")

    async def _dispatch_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange: Exchange = scope["gateway.exchange"]
        path: str = scope["path"]
        if path.startswith("/api/") and not path.startswith(
                ("/api/docs", "/api/schema", docs.EVENTS_PREFIX)):
            route = resolve_api(path)
            if route is None:
                await send_error(send, 404, _NOT_FOUND)
                return
            exchange.service = route.service
            await self.proxy(scope, receive, send, route, exchange)
            return
        await self._own_endpoint(path, scope, send)

    async def _own_endpoint(self, path: str, scope: Scope, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            if path in ("/healthz", "/readyz", "/metrics", "/api/schema", "/api/schema/") \
                    or path.startswith(("/api/docs", docs.EVENTS_PREFIX)):
                await send_error(send, 405, "Method not allowed")
            else:
                await send_error(send, 404, _NOT_FOUND)
            return
        if path in ("/healthz", "/healthz/"):
            await send_bytes(send, 200, b'{"status": "ok"}', b"application/json")
        elif path in ("/readyz", "/readyz/"):
            states = await upstream_states(self.upstreams, self.readiness_timeout)
            status, body = readiness_body(states)
            await send_bytes(send, status, body, b"application/json")
        elif path in ("/metrics", "/metrics/"):
            body, content_type = self.metrics.render()
            await send_bytes(send, 200, body, content_type.encode())
        elif path in ("/api/schema", "/api/schema/"):
            await send_bytes(send, 200, await self.schema.document(), b"application/json")
        elif path in ("/api/docs", "/api/docs/"):
            await send_bytes(send, 200, docs.PAGE, b"text/html; charset=utf-8",
                             [(b"cache-control", b"no-cache")])
        elif path == docs.ASYNCAPI_URL:
            await send_bytes(send, 200, docs.events_document(), b"application/json")
        elif path in (docs.EVENTS_PREFIX, docs.EVENTS_PREFIX + "/"):
            await send_bytes(send, 200, docs.events_page(), b"text/html; charset=utf-8")
        elif path.startswith(docs.DOCS_PREFIX) and (found := docs.asset(path[len(
                docs.DOCS_PREFIX):])) is not None:
            content, content_type = found
            await send_bytes(send, 200, content, content_type.encode(),
                             [(b"cache-control", b"public, max-age=86400")])
        else:
            await send_error(send, 404, _NOT_FOUND)

    # -- WebSocket ------------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = WEBSOCKET_ROUTES.get(scope["path"])
        if service is None:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})  # handshake refused (403)
            return
        request_id = uuid.uuid4().hex
        headers: list[tuple[bytes, bytes]] = []
        for name, value in scope["headers"]:
            if name == _REQUEST_ID and _valid_request_id(value):
                request_id = value.decode("ascii")
            # The upgrade handshake headers stay: the upstream socket needs them.
            if is_forwardable(name) or name in (b"upgrade", b"connection"):
                headers.append((name, value))
        request_id_var.set(request_id)
        client = scope.get("client")
        headers.append((_REQUEST_ID, request_id.encode()))
        headers.append((b"x-forwarded-for", (client[0] if client else "unknown").encode()))

        token = websocket_token(scope)
        try:
            if token is None:
                raise InvalidToken("Missing token")
            await self.verifier.verify(token)
        except InvalidToken:
            await accept_then_close(receive, send, CLOSE_UNAUTHORIZED, "Unauthorized")
            return
        upstream = self.upstreams[service]
        if isinstance(upstream, MissingUpstream):
            await accept_then_close(receive, send, CLOSE_TRY_AGAIN_LATER,
                                    f"Service unavailable: {service}")
            return
        upstream_scope = dict(scope)
        upstream_scope["headers"] = headers
        try:
            await upstream.handle_websocket(upstream_scope, receive, send)
        except UpstreamError:
            await accept_then_close(receive, send, CLOSE_TRY_AGAIN_LATER,
                                    f"Service unavailable: {service}")

    # -- lifespan -------------------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.lifespans.startup()
                except Exception as exc:
                    log.exception("startup failed", extra={"event": "startup_failed"})
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.lifespans.shutdown()
                for upstream in self.upstreams.values():
                    await upstream.aclose()
                await self.proxy.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return
