"""In-process event bus for the embedded mode (all services in one process).

Every ``MemoryBus`` talks to one process-wide ``MemoryHub``, so an event published by the
bus of service A reaches a queue subscribed through the bus of service B, as it would
through RabbitMQ. Queues behave like durable RabbitMQ queues: they outlive their
consumers, deliver in order, retry failed messages at the back of the queue and move
them to a dead-letter list after ``max_attempts`` failures.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.events.bus import DEFAULT_MAX_ATTEMPTS, Handler
from shared.events.envelope import Event
from shared.events.topics import topic_matches

logger = logging.getLogger("shared.events.memory")


@dataclass
class _Delivery:
    event: Event
    attempts: int = 0  # failed deliveries so far


@dataclass
class MemoryQueue:
    """A named queue: its bindings, pending messages and dead letters."""

    name: str
    bindings: set[str] = field(default_factory=set)
    pending: asyncio.Queue[_Delivery] = field(default_factory=asyncio.Queue)
    dead_letters: list[Event] = field(default_factory=list)


class MemoryHub:
    """The process-wide router shared by every ``MemoryBus``."""

    def __init__(self) -> None:
        self.queues: dict[str, MemoryQueue] = {}
        self._outstanding = 0  # messages enqueued and not yet acked or dead-lettered
        self._idle = asyncio.Event()
        self._idle.set()

    def declare(self, name: str, routing_keys: Sequence[str]) -> MemoryQueue:
        """Return queue ``name``, creating it if needed, bound to ``routing_keys`` too."""
        queue = self.queues.get(name)
        if queue is None:
            queue = self.queues[name] = MemoryQueue(name)
        queue.bindings.update(routing_keys)
        return queue

    def route(self, event: Event) -> None:
        """Put ``event`` on every queue with a binding that matches its type."""
        for queue in self.queues.values():
            if any(topic_matches(binding, event.type) for binding in queue.bindings):
                # Each queue gets its own decoded copy: handlers of different services must
                # not share objects, and the round trip catches data that is not JSON.
                queue.pending.put_nowait(_Delivery(Event.from_json(event.to_json())))
                self._message_added()

    def delete(self, name: str) -> None:
        """Drop queue ``name`` and its pending messages (an auto-deleted queue's end)."""
        queue = self.queues.pop(name, None)
        if queue is not None:
            for _ in range(queue.pending.qsize()):
                self._message_done()

    def dead_letters(self, queue: str) -> list[Event]:
        """Events of ``queue`` that failed ``max_attempts`` times (its ``.dlq``)."""
        found = self.queues.get(queue)
        return list(found.dead_letters) if found else []

    async def wait_idle(self) -> None:
        """Wait until every queue is empty and no handler is running (tests, shutdown)."""
        await self._idle.wait()

    def _message_added(self) -> None:
        self._outstanding += 1
        self._idle.clear()

    def _message_done(self) -> None:
        # Counted hub-wide rather than per queue: a handler on one queue may publish to
        # another, and "idle" must mean nothing is left anywhere.
        self._outstanding -= 1
        if self._outstanding == 0:
            self._idle.set()


_hub = MemoryHub()


def get_hub() -> MemoryHub:
    """The hub shared by every ``memory://`` bus of this process."""
    return _hub


def reset_hub() -> None:
    """Forget every queue and message (tests); buses already started keep the old hub."""
    global _hub
    _hub = MemoryHub()


class MemoryBus:
    """``EventBus`` backed by the process-wide ``MemoryHub``."""

    def __init__(self, hub: MemoryHub | None = None) -> None:
        self._hub = hub
        self._consumers: list[asyncio.Task[None]] = []
        self._broadcast_queues: list[str] = []

    @property
    def hub(self) -> MemoryHub:
        """The hub this bus publishes to (resolved at first use, so ``reset_hub`` applies)."""
        if self._hub is None:
            self._hub = get_hub()
        return self._hub

    async def start(self) -> None:
        """Nothing to connect to; present for the ``EventBus`` interface."""
        _ = self.hub

    async def close(self) -> None:
        """Stop this bus's consumers; their queues and pending messages stay in the hub,
        except this bus's broadcast queues, which go with it."""
        consumers, self._consumers = self._consumers, []
        for task in consumers:
            task.cancel()
        await asyncio.gather(*consumers, return_exceptions=True)
        broadcast_queues, self._broadcast_queues = self._broadcast_queues, []
        for name in broadcast_queues:
            self.hub.delete(name)

    async def publish(self, event: Event) -> None:
        """Route ``event`` to the matching queues; "confirmed" once it is enqueued."""
        self.hub.route(event)

    async def subscribe(
        self,
        queue: str,
        routing_keys: Sequence[str],
        handler: Handler,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        """Consume ``queue``; several subscribers of one queue compete for its messages."""
        declared = self.hub.declare(queue, routing_keys)
        task = asyncio.create_task(
            _consume(self.hub, declared, handler, max_attempts), name=f"memory-bus:{queue}"
        )
        self._consumers.append(task)

    async def subscribe_broadcast(self, routing_keys: Sequence[str], handler: Handler) -> None:
        """Give this bus a queue of its own, so it sees every matching event (at most once)."""
        name = f"broadcast.{uuid.uuid4().hex}"
        self._broadcast_queues.append(name)
        await self.subscribe(name, routing_keys, handler, max_attempts=1)

    async def ping(self) -> None:
        """Always ready: the hub lives in this process."""


async def _consume(hub: MemoryHub, queue: MemoryQueue, handler: Handler, max_attempts: int) -> None:
    while True:
        delivery = await queue.pending.get()
        try:
            await handler(delivery.event)
        except asyncio.CancelledError:
            # Stopped mid-delivery: the message was not acknowledged, so it stays queued.
            queue.pending.put_nowait(delivery)
            raise
        except Exception:
            delivery.attempts += 1
            if not _retry_or_dead_letter(queue, delivery, max_attempts):
                continue
        hub._message_done()


def _retry_or_dead_letter(queue: MemoryQueue, delivery: _Delivery, max_attempts: int) -> bool:
    """Requeue or dead-letter a failed delivery; True when it is finished (dead-lettered)."""
    extra = {
        "event": "events.handler_failed",
        "queue": queue.name,
        "eventType": delivery.event.type,
        "eventId": delivery.event.id,
        "attempts": delivery.attempts,
    }
    if delivery.attempts >= max_attempts:
        logger.error("event handler failed, dead-lettering", exc_info=True, extra=extra)
        queue.dead_letters.append(delivery.event)
        return True
    logger.warning("event handler failed, will retry", exc_info=True, extra=extra)
    # Back of the queue, as the RabbitMQ backend republishes: one poison message does not
    # block the ones behind it.
    queue.pending.put_nowait(delivery)
    return False
