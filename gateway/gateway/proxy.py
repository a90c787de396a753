"""Forwarding one HTTP request to its service: the edge checks, then the upstream hop.

In order: clean the headers (hop-by-hop, forgeable identity headers), check the bearer
token unless the route is public, refuse bodies over the limit, reserve a slot in the login
and registration limits (``gateway.edge_limits``), then hand the request to the upstream and,
for those two, settle the slot by auth's answer. Every refusal is the contract's
``{"error": ...}`` body and happens before the service is touched.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from gateway.client_address import ClientAddress
from gateway.edge_limits import EdgeLimits, settling_send
from gateway.exchange import Exchange
from gateway.http_upstream import StreamCut
from gateway.ratelimit import LimitStoreUnavailable
from gateway.request_body import (
    email_of,
    guarded_receive,
    read_body,
    too_large_message,
)
from gateway.routing import LOGIN_PATH, REGISTER_PATH, TELEMETRY_PREFIX, Route, is_public
from gateway.upstreams import ClientGone, Upstream, UpstreamError
from shared import json_body
from shared.errors import send_error
from shared.request_guard import replay
from shared.tokens import AccessTokenVerifier, InvalidToken

log = logging.getLogger("gateway.proxy")

# Request headers never forwarded: hop-by-hop ones, the ones the gateway sets itself,
# and identity headers a client could forge to impersonate someone behind the gateway.
DROPPED_REQUEST_HEADERS = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade",
    b"expect", b"transfer-encoding", b"proxy-authorization",
    b"x-request-id", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host",
    b"x-forwarded-port", b"x-real-ip", b"forwarded",
    b"x-user-id", b"x-user-role", b"x-user-tier", b"x-user-email", b"x-user",
    b"x-forwarded-user", b"x-forwarded-email", b"x-auth-user", b"x-authenticated-user",
    b"x-authenticated-userid", b"x-remote-user", b"remote-user", b"x-principal",
    b"x-role", b"x-roles", b"x-tier", b"x-membership-tier", b"x-gateway-verified",
})
_FORGEABLE_PREFIXES = (b"x-user-", b"x-auth-", b"x-gateway-", b"x-forwarded-user")


def is_forwardable(name: bytes) -> bool:
    """Whether a client's request header (lower-case name) may travel to a service."""
    return name not in DROPPED_REQUEST_HEADERS and not name.startswith(_FORGEABLE_PREFIXES)


@dataclass
class EdgePolicy:
    """Body limits and deadline, rate limits, who the client is and a 503's ``Retry-After``:
    one set per gateway."""

    max_body_bytes: int
    max_body_bytes_telemetry: int
    request_body_timeout_seconds: float
    limits: EdgeLimits
    client_address: ClientAddress
    unavailable_retry_after_seconds: int


class HttpProxy:
    """Applies the edge checks to an API request, then streams it to its service."""

    def __init__(self, upstreams: Mapping[str, Upstream], verifier: AccessTokenVerifier,
                 policy: EdgePolicy, metrics: object | None = None) -> None:
        self.upstreams = upstreams
        self.verifier = verifier
        self.policy = policy
        self.metrics = metrics
        # Built once: only the 503 of a service that is down carries it.
        self._unavailable_headers = [
            (b"retry-after", str(policy.unavailable_retry_after_seconds).encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send, route: Route,
                       exchange: Exchange) -> None:
        method: str = scope["method"]
        client = scope.get("client")
        client_ip = client[0] if client else "unknown"

        headers: list[tuple[bytes, bytes]] = []
        authorization = b""
        content_length: bytes | None = None
        for name, value in scope["headers"]:
            if not is_forwardable(name):
                continue
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                content_length = value
            headers.append((name, value))
        headers.append((b"x-request-id", exchange.request_id_bytes))
        headers.append((b"x-forwarded-for", client_ip.encode()))
        headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))

        path = route.path
        if not is_public(method, path) and not await self._authorized(authorization, send):
            return

        limit = (self.policy.max_body_bytes_telemetry if path.startswith(TELEMETRY_PREFIX)
                 else self.policy.max_body_bytes)
        if content_length is not None:
            try:
                declared = int(content_length)
            except ValueError:
                await send_error(send, 400, "Invalid Content-Length")
                return
            if declared > limit:
                await send_error(send, 413, too_large_message(limit))
                return
        if method not in ("GET", "HEAD"):
            # uvicorn holds a declared Content-Length to its word; only a chunked body is counted.
            receive = guarded_receive(receive, exchange, self.policy.request_body_timeout_seconds,
                                       limit if content_length is None else None)

        upstream_scope = dict(scope)
        upstream_scope["headers"] = headers
        if route.appended_slash:
            upstream_scope["path"] = path
            raw_path = scope.get("raw_path")
            upstream_scope["raw_path"] = raw_path + b"/" if raw_path else path.encode()

        if method == "POST" and path == LOGIN_PATH:
            await self._login(upstream_scope, receive, send, route, exchange,
                              self.policy.client_address.of(scope), limit)
            return
        if method == "POST" and path == REGISTER_PATH:
            await self._register(upstream_scope, receive, send, route, exchange,
                                 self.policy.client_address.of(scope))
            return
        await self.forward(route.service, upstream_scope, receive, send, exchange)

    async def forward(self, service: str, scope: Scope, receive: Receive, send: Send,
                      exchange: Exchange) -> None:
        upstream = self.upstreams[service]
        try:
            await upstream.handle_http(scope, receive, send)
        except UpstreamError as exc:
            self._upstream_failed(service, exc.kind, exc.detail)
            if exchange.refusal is None and not exchange.status:
                await send_error(send, exc.status, exc.message,
                                 self._unavailable_headers if exc.status == 503 else ())
        except StreamCut as exc:
            # Returning with the response unfinished makes uvicorn drop the connection.
            self._upstream_failed(service, "stream_cut", str(exc))
            return
        except ClientGone:
            pass
        await _send_refusal(send, exchange)

    def _upstream_failed(self, service: str, kind: str, detail: str) -> None:
        if self.metrics is not None:
            self.metrics.upstream_error(service, kind)  # type: ignore[attr-defined]
        log.warning("upstream failed", extra={"event": "upstream_error", "upstream": service,
                                              "kind": kind, "detail": detail})

    async def _authorized(self, authorization: bytes, send: Send) -> bool:
        scheme, _, token = authorization.partition(b" ")
        if not authorization:
            message = "Authentication credentials were not provided"
        elif scheme.lower() != b"bearer" or not token.strip():
            message = "Authorization header must be 'Bearer <token>'"
        else:
            try:
                await self.verifier.verify(token.strip().decode("latin-1"))
                return True
            except InvalidToken as exc:
                message = f"Invalid token: {exc}"
        if self.metrics is not None:
            self.metrics.reject("unauthorized")  # type: ignore[attr-defined]
        await send_error(send, 401, message, [(b"www-authenticate", b"Bearer")])
        return False

    async def _login(self, scope: Scope, receive: Receive, send: Send, route: Route,
                     exchange: Exchange, client_ip: str, limit: int) -> None:
        try:
            body = await read_body(receive, limit)
        except ClientGone:
            await _send_refusal(send, exchange)
            return
        if body is None:
            await send_error(send, 413, too_large_message(limit))
            return
        problem = json_body.problem(body)  # before json.loads, which could not take it
        if problem is not None:
            await send_error(send, 400, problem)
            return
        email = email_of(body)
        limits = self.policy.limits
        try:
            reservation = await limits.reserve_login(client_ip, email)
        except LimitStoreUnavailable:
            # Fail closed: without the store, nothing bounds the guesses.
            self._reject("limit_store_unavailable")
            await send_error(send, 503, "Login is temporarily unavailable, try again later",
                             self._unavailable_headers)
            return
        if reservation.retry_after:
            self._reject("login_rate_limited")
            await _too_many(send, reservation.retry_after,
                            "Too many failed login attempts, try again later")
            return
        send, settled = settling_send(send, lambda status: limits.settle_login(reservation, status))
        try:
            await self.forward(route.service, scope, replay(body, receive), send, exchange)
        finally:
            await settled(exchange.status)

    async def _register(self, scope: Scope, receive: Receive, send: Send, route: Route,
                        exchange: Exchange, client_ip: str) -> None:
        limits = self.policy.limits
        reservation = await limits.reserve_registration(client_ip)
        if reservation.retry_after:
            self._reject("register_rate_limited")
            await _too_many(send, reservation.retry_after,
                            "Too many registrations, try again later")
            return
        send, settled = settling_send(
            send, lambda status: limits.settle_registration(reservation, status))
        try:
            await self.forward(route.service, scope, receive, send, exchange)
        finally:
            await settled(exchange.status)

    def _reject(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.reject(reason)  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        await self.policy.limits.aclose()


async def _too_many(send: Send, retry_after: int, message: str) -> None:
    await send_error(send, 429, message, [(b"retry-after", str(retry_after).encode())])


async def _send_refusal(send: Send, exchange: Exchange) -> None:
    """The gateway's own answer when it stopped the request body, unless one went out."""
    if exchange.refusal is not None:
        exchange.discard = False
        if not exchange.status:
            await send_error(send, *exchange.refusal)
