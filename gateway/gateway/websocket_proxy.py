"""WebSocket proxying: the client's socket (ASGI) bridged to the service's socket.

The gateway checks the token itself first (accept, then close ``4401`` when it is
bad or missing, as the chat service does), then opens the upstream socket with the
same path, query string and subprotocols, accepts the client with the subprotocol
the service chose, and pumps frames both ways until either side closes; the close
code travels across.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import parse_qsl

import websockets
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect

log = logging.getLogger("gateway.websocket")

CLOSE_UNAUTHORIZED = 4401
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_INTERNAL_ERROR = 1011

_HANDSHAKE_HEADERS = frozenset({
    b"host", b"upgrade", b"connection", b"sec-websocket-key", b"sec-websocket-version",
    b"sec-websocket-extensions", b"sec-websocket-protocol", b"content-length",
    b"transfer-encoding",
})


def websocket_token(scope: Scope) -> str | None:
    """The access token from ``?token=``, the ``bearer, <token>`` subprotocol or the header."""
    query = scope.get("query_string", b"")
    if query:
        for key, value in parse_qsl(query.decode("latin-1")):
            if key == "token" and value:
                return value
    subprotocols = scope.get("subprotocols") or []
    if len(subprotocols) >= 2 and subprotocols[0].lower() == "bearer":
        return subprotocols[1]
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
    return None


async def accept_then_close(receive: Receive, send: Send, code: int, reason: str = "") -> None:
    """Complete the handshake, then close with ``code`` (browsers only see codes this way)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code, "reason": reason})


def _upstream_url(base_url: str, scope: Scope) -> str:
    ws_base = "ws" + base_url[4:] if base_url.startswith("http") else base_url
    path = scope.get("raw_path") or scope["path"].encode()
    url = ws_base + path.decode("latin-1")
    query = scope.get("query_string", b"")
    return url + "?" + query.decode("latin-1") if query else url


async def proxy_websocket_over_tcp(service: str, base_url: str, scope: Scope, receive: Receive,
                                   send: Send, *, open_timeout: float = 10.0) -> None:
    """Bridge the client's socket to ``base_url`` + the request path."""
    connect_message = await receive()
    if connect_message["type"] != "websocket.connect":
        return
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]
               if k not in _HANDSHAKE_HEADERS]
    subprotocols = scope.get("subprotocols") or None
    try:
        upstream = await connect(
            _upstream_url(base_url, scope),
            subprotocols=subprotocols,  # type: ignore[arg-type]
            additional_headers=headers,
            open_timeout=open_timeout,
            ping_interval=None,
            compression=None,
            proxy=None,
            user_agent_header=None,
            max_size=4 * 1024 * 1024,
        )
    except (OSError, TimeoutError) as exc:
        log.warning("websocket upstream unreachable",
                    extra={"event": "upstream_error", "upstream": service, "error": str(exc)})
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER,
                    "reason": f"Service unavailable: {service}"})
        return
    except websockets.exceptions.InvalidHandshake as exc:
        log.warning("websocket upstream refused the handshake",
                    extra={"event": "upstream_error", "upstream": service, "error": str(exc)})
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": CLOSE_INTERNAL_ERROR,
                    "reason": f"Bad gateway: {service}"})
        return

    accept: dict[str, object] = {"type": "websocket.accept"}
    if upstream.subprotocol:
        accept["subprotocol"] = upstream.subprotocol
    await send(accept)
    await _pump(upstream, receive, send)


async def _pump(upstream: ClientConnection, receive: Receive, send: Send) -> None:
    client_closed = asyncio.Event()

    async def client_to_upstream() -> None:
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                await upstream.send(text if text is not None else message.get("bytes") or b"")
            elif kind == "websocket.disconnect":
                client_closed.set()
                code = message.get("code", 1000)
                if code in (1005, 1006) or not (1000 <= code < 5000):
                    code = 1000
                await upstream.close(code)
                return

    async def upstream_to_client() -> None:
        try:
            async for frame in upstream:
                if isinstance(frame, str):
                    await send({"type": "websocket.send", "text": frame})
                else:
                    await send({"type": "websocket.send", "bytes": frame})
        except websockets.exceptions.ConnectionClosed:
            pass
        if client_closed.is_set():
            return
        code = upstream.close_code
        if code is None or code in (1005, 1006):
            code = 1000 if code == 1005 else CLOSE_INTERNAL_ERROR
        with contextlib.suppress(Exception):
            await send({"type": "websocket.close", "code": code,
                        "reason": upstream.close_reason or ""})

    tasks = [asyncio.ensure_future(client_to_upstream()),
             asyncio.ensure_future(upstream_to_client())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await upstream.close()
