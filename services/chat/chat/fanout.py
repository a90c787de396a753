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
from typing import Any, TypeVar

from chat import frames
from chat.connections import Connection, ConnectionRegistry
from chat.events import MESSAGE_CREATED, PRODUCER, TYPING
from shared.contracts import CONTRACTS, ContractViolation, EventContract
from shared.contracts.chat import MessageCreatedV1, TypingV1
from shared.events import Event, EventBus, Handler

log = logging.getLogger("chat.fanout")

_Contract = TypeVar("_Contract", bound=EventContract)


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
        if (message := _parse(MessageCreatedV1, event)) is None:
            return
        if message.origin == self.replica_id:
            return  # stored here, pushed right after the commit
        self.deliver_message(message.data())

    def typing(self, bus: EventBus, *, owner_id: str, thread_id: str, user_id: str,
               sender: Connection) -> None:
        """``user_id`` is typing in the thread: tell every socket that would see its
        messages, except ``sender``, here and on the other replicas."""
        self.registry.push_to_thread(owner_id, frames.typing(user_id, thread_id), skip=sender)
        if len(self._publishing) >= self._max_pending:
            return  # broker slow or down: typing notices are not worth queueing
        notice = TypingV1(thread_id=thread_id, user_id=owner_id, user=user_id,
                          origin=self.replica_id)
        event = Event.new(notice.TYPE, PRODUCER, notice.data(), version=notice.VERSION)
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
        notice = _parse(TypingV1, event)
        if notice is None or notice.origin == self.replica_id:
            return
        self.registry.push_to_thread(notice.user_id, frames.typing(notice.user, notice.thread_id))

    async def aclose(self) -> None:
        """Stop what is still running (shutdown)."""
        tasks = list(self._publishing)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.registry.aclose()


def _parse(contract: type[_Contract], event: Event) -> _Contract | None:
    """``event``'s data by ``contract``; None (logged) when it breaks it: a broadcast has
    no dead-letter queue, and a notice that cannot be pushed is not worth one."""
    try:
        parsed = CONTRACTS.parse(event)
    except ContractViolation as exc:
        log.warning("chat event breaks its contract, dropped", extra={
            "event": "chat.malformed_event", "eventId": event.id, "reason": str(exc)})
        return None
    return parsed if isinstance(parsed, contract) else None
