"""The event bus interface and the factory that picks a backend from a URL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

from shared.events.envelope import Event

#: The one durable topic exchange every service publishes to; the routing key is the type.
EXCHANGE = "membership_auto.events"

#: Default number of deliveries before a failing message is dead-lettered.
DEFAULT_MAX_ATTEMPTS = 5

Handler = Callable[[Event], Awaitable[None]]


def dead_letter_queue_name(queue: str) -> str:
    """Name of the queue where messages of ``queue`` go after too many failures."""
    return f"{queue}.dlq"


@runtime_checkable
class EventBus(Protocol):
    """Publish events and subscribe handlers to them.

    Delivery is at least once: a handler can see the same event twice (use
    ``IdempotentConsumer`` when applying it twice would be wrong). A handler that returns
    acknowledges the message; one that raises gets it again, and after ``max_attempts``
    failures the message is moved to ``<queue>.dlq``.
    """

    async def start(self) -> None:
        """Connect; call once before publishing or subscribing."""
        ...

    async def close(self) -> None:
        """Stop consuming and disconnect."""
        ...

    async def publish(self, event: Event) -> None:
        """Publish ``event``; returns only once the broker has confirmed it."""
        ...

    async def subscribe(
        self,
        queue: str,
        routing_keys: Sequence[str],
        handler: Handler,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        """Bind durable ``queue`` to ``routing_keys`` and deliver its messages to ``handler``."""
        ...

    async def subscribe_broadcast(self, routing_keys: Sequence[str], handler: Handler) -> None:
        """Deliver every event matching ``routing_keys`` to ``handler`` in this process.

        Unlike ``subscribe``, where the processes of a service compete for one durable
        queue, every process gets its own copy (an exclusive, auto-deleted queue): for work
        that each replica must do, such as pushing a chat message to its own sockets.
        Live only and at most once: no retries, and a process that is down misses events.
        """
        ...

    async def ping(self) -> None:
        """Raise when the broker is unreachable (readiness probes)."""
        ...


def create_bus(amqp_url: str) -> EventBus:
    """Build the backend named by ``amqp_url``: ``memory://`` or ``amqp(s)://...``."""
    if amqp_url.startswith("memory://"):
        from shared.events.memory import MemoryBus

        return MemoryBus()
    if amqp_url.startswith(("amqp://", "amqps://")):
        # Imported lazily so the embedded mode does not need aio-pika to be importable.
        from shared.events.rabbitmq import RabbitMQBus

        return RabbitMQBus(amqp_url)
    raise ValueError("unsupported event bus URL scheme (expected memory:// or amqp://)")
