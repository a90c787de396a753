"""The WebSocket ``/chat/ws`` of CONTRACT.md: who is connecting, frames in, frames out.

The access token comes from ``?token=``, from the subprotocol pair ``bearer, <token>``
(the socket is then accepted with the subprotocol ``bearer``) or from an
``Authorization`` header. A bad or missing token: the handshake is accepted, then the
socket is closed with ``4401``; a token that expires while its socket is open closes it
with ``4401`` at that moment (the client refreshes and reconnects).

A socket's frames are handled one at a time, in order. ``SEND`` stores the message and
answers the sender ``ACK`` before the ``MESSAGE`` fan-out (both go through the socket's
own send backlog, so they arrive in that order). A bad frame is answered ``ERROR`` and
the socket stays open; so is a frame past the socket's rate limit, unread, and a
``TYPING`` repeated for one thread within a second is dropped (``chat.limits``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.routing import WebSocketRoute

from chat import frames, posting
from chat.api.deps import ChatRuntime, runtime
from chat.connections import Connection
from chat.limits import FrameLimiter
from chat.schemas import parse_draft
from chat.threads import Participant
from shared import json_body
from shared.errors import DATABASE_UNAVAILABLE, ApiError, BadRequest
from shared.tokens import AccessTokenVerifier, InvalidToken, Principal

log = logging.getLogger("chat.socket")


CLOSE_UNAUTHORIZED = 4401
BEARER = "bearer"
UNKNOWN_TYPE = "Unknown frame type: expected SEND or TYPING"


def socket_token(websocket: WebSocket) -> tuple[str | None, bool]:
    """The access token, and whether it came as the ``bearer, <token>`` subprotocol."""
    token = websocket.query_params.get("token")
    if token:
        return token, False
    subprotocols = websocket.scope.get("subprotocols") or []
    if len(subprotocols) >= 2 and subprotocols[0].lower() == BEARER and subprotocols[1]:
        return subprotocols[1], True
    scheme, _, credentials = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == BEARER and credentials.strip():
        return credentials.strip(), False
    return None, False


async def _verify(verifier: AccessTokenVerifier, token: str | None) -> Principal | None:
    if token is None:
        return None
    try:
        return await verifier.verify(token)
    except InvalidToken:
        return None


async def chat_socket(websocket: WebSocket) -> None:
    """One client's socket, from the handshake to the disconnect."""
    chat = runtime(websocket)
    token, by_subprotocol = socket_token(websocket)
    principal = await _verify(chat.verifier, token)
    if token is None or principal is None:
        await websocket.accept()
        await websocket.close(CLOSE_UNAUTHORIZED, "Unauthorized")
        return
    await websocket.accept(subprotocol=BEARER if by_subprotocol else None)
    author = Participant.of(principal)
    registry = chat.fanout.registry
    connection = registry.add(websocket, author.user_id, staff=author.staff)
    expiry = asyncio.get_running_loop().call_later(
        max(0.0, principal.expires_at - time.time()), registry.drop, connection,
        CLOSE_UNAUTHORIZED, "Token expired")
    rate = chat.settings.ws_frames_per_second
    limiter = FrameLimiter(rate, time.monotonic())
    try:
        while connection.open:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            if limiter.allow(time.monotonic()):
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", errors="replace")
                await handle_frame(chat, connection, author, text, token, limiter)
            else:
                connection.push(frames.too_many_frames(rate))
            if connection.waiting:
                # Frames the client already sent are received without a pause, so a burst
                # answered with ERRORs would fill this socket's backlog before its writer
                # ran once (and the socket would be dropped as too slow): let it write.
                await asyncio.sleep(0)
    finally:
        expiry.cancel()
        registry.remove(connection)


# Plain Starlette routes, not FastAPI's: a socket lives for hours, and FastAPI's
# per-connection dependency scaffolding would stay alive (and be scanned by the garbage
# collector) for as long; this endpoint takes no dependencies.
router = APIRouter(routes=[WebSocketRoute("/chat/ws", chat_socket),
                           WebSocketRoute("/chat/ws/", chat_socket)])


async def handle_frame(chat: ChatRuntime, connection: Connection, author: Participant,
                       text: str, token: str, limiter: FrameLimiter) -> None:
    """Act on one client frame; every failure is answered with an ``ERROR`` frame."""
    try:
        frame = json_body.loads(text)  # no request guard in front of a socket's frames
    except json_body.InvalidJson as exc:
        reason = str(exc)
        connection.push(frames.error(
            "Frame is not valid JSON" if reason == json_body.MALFORMED else reason))
        return
    if not isinstance(frame, dict):
        connection.push(frames.error("A frame must be a JSON object"))
        return
    try:
        kind = frame.get("type")
        if kind == "SEND":
            await _send(chat, connection, author, frame, token)
        elif kind == "TYPING":
            await _typing(chat, connection, author, frame, limiter)
        else:
            connection.push(frames.error(UNKNOWN_TYPE))
    except ApiError as exc:
        connection.push(frames.error(exc.message))
    except DATABASE_UNAVAILABLE:
        log.warning("database unavailable", exc_info=True,
                    extra={"event": "database_unavailable", "path": "/chat/ws"})
        connection.push(frames.error("Service unavailable: database"))
    except Exception:
        log.exception("frame failed", extra={"event": "unhandled_error", "path": "/chat/ws"})
        connection.push(frames.error("Internal server error"))


def _thread_id(frame: dict[str, Any]) -> str:
    thread_id = frame.get("threadId")
    if not isinstance(thread_id, str) or not thread_id:
        raise BadRequest("threadId is required")
    return thread_id


async def _send(chat: ChatRuntime, connection: Connection, author: Participant,
                frame: dict[str, Any], token: str) -> None:
    thread_id = _thread_id(frame)
    draft = parse_draft(frame, max_body_length=chat.settings.max_body_length,
                        max_attachments=chat.settings.max_attachments)
    async with chat.db.session() as session:
        message, event = await posting.post(
            session, chat.outbox, files=chat.files, author=author, thread_id=thread_id,
            draft=draft, authorization=f"Bearer {token}",
            timeout_s=chat.settings.peer_timeout_seconds, origin=chat.fanout.replica_id)
    connection.push(frames.ack(frame.get("clientId"), message.id))
    chat.fanout.deliver_message(event)


async def _typing(chat: ChatRuntime, connection: Connection, author: Participant,
                  frame: dict[str, Any], limiter: FrameLimiter) -> None:
    thread_id = _thread_id(frame)
    owner_id = await chat.owners.owner_of(thread_id, author)  # someone else's: ERROR
    if not limiter.typing_due(thread_id, time.monotonic()):
        return
    chat.fanout.typing(chat.bus, owner_id=owner_id, thread_id=thread_id,
                       user_id=author.user_id, sender=connection)
