"""The WebSocket frames of CONTRACT.md, encoded once and pushed to many sockets."""

from __future__ import annotations

import json
from functools import cache
from typing import Any


def encode(frame: dict[str, Any]) -> str:
    """Compact JSON text of a frame."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def message(data: dict[str, Any]) -> str:
    """``MESSAGE`` from the data of a ``chat.message.created`` event."""
    return encode({"type": "MESSAGE", "id": data["messageId"], "threadId": data["threadId"],
                   "body": data["body"], "sender": data["sender"], "senderId": data["senderId"],
                   "attachments": data["attachments"], "timestamp": data["createdAt"]})


def ack(client_id: Any, message_id: str) -> str:
    """``ACK``: the sender's ``clientId`` (null if it sent none) and the stored id."""
    return encode({"type": "ACK", "clientId": client_id, "id": message_id})


def typing(user_id: str, thread_id: str) -> str:
    """``TYPING``: ``user`` is typing in the thread."""
    return encode({"type": "TYPING", "user": user_id, "threadId": thread_id})


def error(text: str) -> str:
    """``ERROR`` with a human-readable message."""
    return encode({"type": "ERROR", "error": text})


@cache
def too_many_frames(rate: float) -> str:
    """``ERROR`` for a frame past the socket's rate limit (encoded once per rate)."""
    return error(f"Too many frames: at most {rate:g} a second on one socket")
