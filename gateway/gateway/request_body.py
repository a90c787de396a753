"""The request body as the gateway's edge reads it: whole (login), then replayed to the
service (``shared.request_guard.replay``), or guarded on its way there by a deadline and a
size limit."""

from __future__ import annotations

import asyncio
import json

from starlette.types import Message, Receive

from gateway.exchange import Exchange
from gateway.upstreams import ClientGone


def too_large_message(limit: int) -> str:
    return f"Request body too large (limit {limit} bytes)"


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or ``None`` when it goes over ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


_DISCONNECT: Message = {"type": "http.disconnect"}


def guarded_receive(receive: Receive, exchange: Exchange, timeout: float,
                     limit: int | None) -> Receive:
    """A ``receive`` that ends the body (as a disconnect) when it is not all in within
    ``timeout`` seconds (408) or goes over ``limit`` bytes (413): a slow or endless body
    holds no upstream connection past that."""
    deadline = asyncio.get_running_loop().time() + timeout
    size = 0
    body_done = False

    async def guarded() -> Message:
        nonlocal size, body_done
        if exchange.refusal is not None:
            return _DISCONNECT
        if body_done:  # what follows the body is the disconnect: no deadline on that
            return await receive()
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            exchange.refuse(408, "Request body not received in time")
            return _DISCONNECT
        if message["type"] == "http.request":
            body_done = not message.get("more_body", False)
            size += len(message.get("body", b""))
            if limit is not None and size > limit:
                exchange.refuse(413, too_large_message(limit))
                return _DISCONNECT
        return message

    return guarded


def email_of(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    email = data.get("email") if isinstance(data, dict) else None
    return email.strip().lower() if isinstance(email, str) and email.strip() else None
