"""Getting frames to every socket that should see them, whichever replica holds it.

A stored message is pushed by the process that stored it to its own sockets right
after the commit (no broker round trip on that path), and reaches the other replicas
as ``chat.message.created`` from the outbox through a *broadcast* subscription (every
process gets a copy). Each copy names the process that stored the message
(``origin``), which skips its own. ``TYPING`` frames store nothing: they are pushed
locally and broadcast as ``chat.typing`` straight on the bus, best effort.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from chat import frames
from chat.connections import Connection, ConnectionRegistry
from chat.events import MESSAGE_CREATED, PRODUCER, TYPING
from shared.events import Event, EventBus, Handler

log = logging.getLogger("chat.fanout")

_MESSAGE_FIELDS = ("messageId", "threadId", "userId", "sender", "senderId", "body",
                   "attachments", "createdAt")


class Fanout:
    """Pushes messages and typing notices to this process's sockets, and listens to the
    other replicas' broadcasts."""

    def __init__(self, registry: ConnectionRegistry, replica_id: str, *,
                 max_pending_publishes: int = 100) -> None:
        self.registry = registry
        self.replica_id = replica_id
        self._max_pending = max_pending_publishes
        self._publishing: set[asyncio.Task[None]] = set()

    def handlers(self) -> Mapping[str, Handler]:
        """The broadcast subscriptions of every chat process (``create_service_app``)."""
        return {MESSAGE_CREATED: self.on_message_created, TYPING: self.on_typing}

    def deliver_message(self, data: Mapping[str, Any]) -> int:
        """Push ``MESSAGE`` (from ``chat.message.created`` data) to the thread owner's and
        the staff's sockets here; returns how many sockets."""
        return self.registry.push_to_thread(data["userId"], frames.message(dict(data)))

    async def on_message_created(self, event: Event) -> None:
        """Another replica stored a message: push it to the sockets of this one."""
        data = event.data
        if data.get("origin") == self.replica_id:
            return  # stored here, pushed right after the commit
        if not all(key in data for key in _MESSAGE_FIELDS):
            log.warning("malformed chat.message.created dropped", extra={
                "event": "chat.malformed_event", "eventId": event.id})
            return
        self.deliver_message(data)

    def typing(self, bus: EventBus, *, owner_id: str, thread_id: str, user_id: str,
               sender: Connection) -> None:
        """``user_id`` is typing in the thread: tell every socket that would see its
        messages, except ``sender``, here and on the other replicas."""
        self.registry.push_to_thread(owner_id, frames.typing(user_id, thread_id), skip=sender)
        if len(self._publishing) >= self._max_pending:
            return  # broker slow or down: typing notices are not worth queueing
        event = Event.new(TYPING, PRODUCER, {"threadId": thread_id, "userId": owner_id,
                                             "user": user_id, "origin": self.replica_id})
        task = asyncio.create_task(self._publish(bus, event))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish(self, bus: EventBus, event: Event) -> None:
        try:
            await bus.publish(event)
        except Exception as exc:  # best effort: a lost typing notice harms nobody
            log.warning("typing broadcast failed", extra={
                "event": "chat.typing_publish_failed", "error": type(exc).__name__})

    async def on_typing(self, event: Event) -> None:
        """Someone is typing on another replica: tell the sockets of this one."""
        data = event.data
        if data.get("origin") == self.replica_id:
            return
        try:
            owner_id, thread_id, user_id = data["userId"], data["threadId"], data["user"]
        except KeyError:
            log.warning("malformed chat.typing dropped", extra={
                "event": "chat.malformed_event", "eventId": event.id})
            return
        self.registry.push_to_thread(owner_id, frames.typing(user_id, thread_id))

    async def aclose(self) -> None:
        """Stop what is still running (shutdown)."""
        tasks = list(self._publishing)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.registry.aclose()
