"""The factory that picks an event bus backend from a URL.

Apart from ``bus.py`` (the interface the backends import), so that no module of the
package imports one that imports it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shared.events.bus import EventBus
from shared.events.memory import MemoryBus


def create_bus(amqp_url: str, *, declare: Mapping[str, Sequence[str]] | None = None
               ) -> EventBus:
    """Build the backend named by ``amqp_url``: ``memory://`` or ``amqp(s)://...``.

    ``declare`` (queue -> routing keys) are made to exist, bound, whenever the bus
    connects: a service passes the platform's catalogue (``shared.events.catalog``).
    """
    if amqp_url.startswith("memory://"):
        return MemoryBus(declare=declare)
    if amqp_url.startswith(("amqp://", "amqps://")):
        # Imported lazily so the embedded mode does not need aio-pika to be importable.
        from shared.events.rabbitmq import RabbitMQBus

        return RabbitMQBus(amqp_url, declare=declare)
    raise ValueError("unsupported event bus URL scheme (expected memory:// or amqp://)")
