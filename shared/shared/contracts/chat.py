"""Events the chat service publishes. Both reach every chat process (a broadcast), which
skips the copies whose ``origin`` is itself."""

from __future__ import annotations

from typing import ClassVar

from shared.contracts.base import EventContract


class MessageCreatedV1(EventContract):
    """A message was stored in a thread: the contract's ``messageId, threadId, userId``
    (the thread's owner), ``sender``, plus what a ``MESSAGE`` frame needs and ``origin``,
    the id of the process that stored it."""

    TYPE: ClassVar[str] = "chat.message.created"
    message_id: str
    thread_id: str
    user_id: str
    sender: str
    sender_id: str
    body: str
    attachments: list[str]
    created_at: str  # ISO 8601 UTC with a trailing Z
    origin: str


class TypingV1(EventContract):
    """``user`` is typing in the thread owned by ``userId`` (ephemeral: straight on the
    bus, not through the outbox)."""

    TYPE: ClassVar[str] = "chat.typing"
    thread_id: str
    user_id: str
    user: str
    origin: str


CONTRACTS = (MessageCreatedV1, TypingV1)
