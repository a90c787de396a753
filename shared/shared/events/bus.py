"""The event bus interface (the backends in ``memory`` and ``rabbitmq`` implement it;
``factory.create_bus`` picks one)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from shared.events.envelope import Event

if TYPE_CHECKING:
    from shared.events.delivery import RetryPolicy

#: The one durable topic exchange every service publishes to; the routing key is the type.
EXCHANGE = "membership_auto.events"

Handler = Callable[[Event], Awaitable[None]]


@runtime_checkable
class EventBus(Protocol):
    """Publish events and subscribe handlers to them.

    Delivery is at least once: a handler can see the same event twice (use
    ``IdempotentConsumer`` when applying it twice would be wrong). A handler that returns
    acknowledges the message; one that raises gets it again after a delay, and a message
    that keeps failing is moved to ``<queue>.dlq`` (``shared.events.delivery`` has the
    rules).
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

    async def drain(self, grace: float) -> None:
        """Stop taking messages and wait up to ``grace`` s for the handlers running now
        (graceful shutdown; ``close`` follows)."""
        ...

    async def subscribe(self, queue: str, routing_keys: Sequence[str], handler: Handler, *,
                        retry: RetryPolicy | None = None) -> None:
        """Bind durable ``queue`` to ``routing_keys`` and deliver its messages to ``handler``,
        retrying failures by ``retry`` (the defaults of ``RetryPolicy`` when None)."""
        ...

    async def subscribe_broadcast(self, routing_keys: Sequence[str], handler: Handler) -> None:
        """Deliver every event matching ``routing_keys`` to ``handler`` in this process.

        Unlike ``subscribe``, where the processes of a service compete for one durable
        queue, every process gets its own copy (an exclusive, auto-deleted queue): for work
        that each replica must do, such as pushing a chat message to its own sockets.
        Live only and at most once: no retries, and a process that is down misses events.
        """
        ...

    async def dead_letter_counts(self) -> dict[str, int]:
        """Messages waiting in the dead-letter queue of each queue this bus consumes."""
        ...

    async def ping(self) -> None:
        """Raise when the broker is unreachable (readiness probes)."""
        ...
