"""In-process event bus for the embedded mode (all services in one process).

Every ``MemoryBus`` talks to one process-wide ``MemoryHub``, so an event published by the
bus of service A reaches a queue subscribed through the bus of service B, as it would
through RabbitMQ. Queues behave like durable RabbitMQ queues: they outlive their
consumers, deliver in order, hold a failed message for its retry delay and then put it at
the back of the queue, and move it to a dead-letter list when it keeps failing, by the
same rules as the RabbitMQ backend (``shared.events.delivery``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shared.events.bus import Handler
from shared.events.delivery import RetryPolicy, handling, judge, log_failure, log_handled
from shared.events.envelope import Event
from shared.events.topics import topic_matches

logger = logging.getLogger("shared.events.memory")


@dataclass
class _Delivery:
    event: Event
    attempts: int = 0  # failed deliveries for reasons of its own
    outages: int = 0  # failed deliveries that met an outage


@dataclass
class MemoryQueue:
    """A named queue: its bindings, pending messages, consumers and dead letters."""

    name: str
    bindings: set[str] = field(default_factory=set)
    pending: asyncio.Queue[_Delivery] = field(default_factory=asyncio.Queue)
    dead_letters: list[Event] = field(default_factory=list)
    consumers: int = 0


class MemoryHub:
    """The process-wide router shared by every ``MemoryBus``."""

    def __init__(self) -> None:
        self.queues: dict[str, MemoryQueue] = {}
        # Messages that a consumer still has to deal with: queued or delayed in a queue
        # that has consumers, or being handled. A queue nobody consumes yet (declared from
        # the catalogue) keeps its messages without holding "idle" back.
        self._outstanding = 0
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
            if any(topic_matches(binding, event.routing_key) for binding in queue.bindings):
                # Each queue gets its own decoded copy: handlers of different services must
                # not share objects, and the round trip catches data that is not JSON.
                self.enqueue(queue, _Delivery(Event.from_json(event.to_json())))

    def enqueue(self, queue: MemoryQueue, delivery: _Delivery) -> None:
        """Put ``delivery`` at the back of ``queue``."""
        queue.pending.put_nowait(delivery)
        if queue.consumers:
            self._message_added()

    def delete(self, name: str) -> None:
        """Drop queue ``name`` and its pending messages (an auto-deleted queue's end)."""
        queue = self.queues.pop(name, None)
        if queue is not None and queue.consumers:
            for _ in range(queue.pending.qsize()):
                self._message_done()

    def dead_letters(self, queue: str) -> list[Event]:
        """Events of ``queue`` that failed ``max_attempts`` times (its ``.dlq``)."""
        found = self.queues.get(queue)
        return list(found.dead_letters) if found else []

    async def wait_idle(self) -> None:
        """Wait until every consumed queue is empty and no handler runs (tests, shutdown)."""
        await self._idle.wait()

    def consumer_added(self, queue: MemoryQueue) -> None:
        if not queue.consumers:
            for _ in range(queue.pending.qsize()):
                self._message_added()
        queue.consumers += 1

    def consumer_removed(self, queue: MemoryQueue) -> None:
        queue.consumers -= 1
        if not queue.consumers:
            for _ in range(queue.pending.qsize()):
                self._message_done()

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
    """``EventBus`` backed by the process-wide ``MemoryHub``.

    ``declare`` (queue -> routing keys, usually the platform's event catalogue) is
    declared when the bus starts, so events published before their consumer subscribes
    wait in its queue, as on RabbitMQ.
    """

    def __init__(self, hub: MemoryHub | None = None, *,
                 declare: Mapping[str, Sequence[str]] | None = None) -> None:
        self._hub = hub
        self._declare = dict(declare or {})
        self._consumers: list[_Consumer] = []
        self._broadcast_queues: list[str] = []

    @property
    def hub(self) -> MemoryHub:
        """The hub this bus publishes to (resolved at first use, so ``reset_hub`` applies)."""
        if self._hub is None:
            self._hub = get_hub()
        return self._hub

    async def start(self) -> None:
        """Declare the catalogue's queues; there is nothing to connect to."""
        for name, routing_keys in self._declare.items():
            self.hub.declare(name, routing_keys)

    async def close(self) -> None:
        """Stop this bus's consumers; their queues and pending messages stay in the hub,
        except this bus's broadcast queues, which go with it."""
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            consumer.task.cancel()
        await asyncio.gather(*(c.task for c in consumers), return_exceptions=True)
        broadcast_queues, self._broadcast_queues = self._broadcast_queues, []
        for name in broadcast_queues:
            self.hub.delete(name)

    async def drain(self, grace: float) -> None:
        """Take no more messages; wait up to ``grace`` s for the handlers running now."""
        busy = []
        for consumer in self._consumers:
            consumer.stopping = True
            if consumer.busy:
                busy.append(consumer.task)
            else:
                consumer.task.cancel()
        if busy:
            await asyncio.wait(busy, timeout=grace)

    async def publish(self, event: Event) -> None:
        """Route ``event`` to the matching queues; "confirmed" once it is enqueued."""
        self.hub.route(event)

    async def subscribe(self, queue: str, routing_keys: Sequence[str], handler: Handler, *,
                        retry: RetryPolicy | None = None) -> None:
        """Consume ``queue``; several subscribers of one queue compete for its messages."""
        self._consume(self.hub.declare(queue, routing_keys), handler, retry or RetryPolicy())

    async def subscribe_broadcast(self, routing_keys: Sequence[str], handler: Handler) -> None:
        """Give this bus a queue of its own, so it sees every matching event (at most once)."""
        name = f"broadcast.{uuid.uuid4().hex}"
        self._broadcast_queues.append(name)
        self._consume(self.hub.declare(name, routing_keys), handler, None)

    async def dead_letter_counts(self) -> dict[str, int]:
        """Messages in the dead-letter list of each queue this bus consumes."""
        return {c.queue.name: len(c.queue.dead_letters) for c in self._consumers
                if c.retry is not None}

    async def ping(self) -> None:
        """Always ready: the hub lives in this process."""

    def _consume(self, queue: MemoryQueue, handler: Handler, retry: RetryPolicy | None) -> None:
        consumer = _Consumer(self.hub, queue, handler, retry)
        # Counted at once, not when the task first runs: an event published right after
        # subscribing must already hold "idle" back. Uncounted when the task ends, even
        # if it is cancelled before it ever ran.
        self.hub.consumer_added(queue)
        consumer.task = asyncio.create_task(consumer.run(), name=f"memory-bus:{queue.name}")
        consumer.task.add_done_callback(lambda _: self.hub.consumer_removed(queue))
        self._consumers.append(consumer)


@dataclass(eq=False)
class _Consumer:
    """One subscriber of a queue; ``retry`` None is a broadcast (no retry, no dead letter)."""

    hub: MemoryHub
    queue: MemoryQueue
    handler: Handler
    retry: RetryPolicy | None
    task: asyncio.Task[None] = field(init=False)
    busy: bool = False
    stopping: bool = False

    async def run(self) -> None:
        while not self.stopping:
            delivery = await self.queue.pending.get()
            self.busy = True
            try:
                done = await self._deliver(delivery)
            except asyncio.CancelledError:
                # Stopped mid-delivery: the message was not acknowledged, it stays queued.
                self.queue.pending.put_nowait(delivery)
                raise
            finally:
                self.busy = False
            if done:
                self.hub._message_done()

    async def _deliver(self, delivery: _Delivery) -> bool:
        """Handle one delivery; False when it was put aside for a delayed retry."""
        with handling(delivery.event):
            return await self._handle(delivery)

    async def _handle(self, delivery: _Delivery) -> bool:
        """Run the handler; on failure retry later or dead-letter, as ``judge`` says."""
        started = time.perf_counter()
        try:
            await self.handler(delivery.event)
        except Exception as exc:
            if self.retry is None:
                logger.warning("broadcast handler failed", exc_info=True, extra={
                    "event": "events.broadcast_failed", "queue": self.queue.name,
                    "eventId": delivery.event.id})
                return True
            verdict = judge(self.retry, exc, delivery.attempts, delivery.outages)
            log_failure(self.queue.name, delivery.event, verdict)
            if verdict.dead_letter:
                self.queue.dead_letters.append(delivery.event)
                return True
            delivery.attempts, delivery.outages = verdict.attempts, verdict.outages
            asyncio.get_running_loop().call_later(verdict.delay, self._requeue, delivery)
            return False
        if self.retry is not None:
            log_handled(self.queue.name, delivery.event, started)
        return True

    def _requeue(self, delivery: _Delivery) -> None:
        # Back of the queue, as a RabbitMQ delay line dead-letters it: one failing message
        # does not block the ones behind it. It stayed outstanding while it waited.
        self.queue.pending.put_nowait(delivery)
        if not self.queue.consumers:
            self.hub._message_done()
