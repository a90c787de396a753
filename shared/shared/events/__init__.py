"""Event bus: envelope, in-process and RabbitMQ backends, transactional outbox.

Typical service wiring::

    tables = define_event_tables(metadata)
    bus = create_bus(settings.amqp_url)          # "memory://" or "amqp://..."
    outbox = Outbox(tables, producer="auth")
    relay = OutboxRelay(engine, tables, bus)
    consumer = IdempotentConsumer(sessionmaker, tables, bus, "auth.referral-credited",
                                  {"referral.credited": on_referral_credited},
                                  retry=RetryPolicy(delays=(1, 5, 30), max_attempts=4))
    await bus.start(); await relay.start(); await consumer.start()
"""

from shared.events.bus import EXCHANGE, EventBus, Handler
from shared.events.delivery import RetryPolicy
from shared.events.envelope import Event
from shared.events.factory import create_bus
from shared.events.idempotent import IdempotentConsumer, SessionHandler
from shared.events.memory import MemoryBus, MemoryHub, get_hub, reset_hub
from shared.events.outbox import Outbox, OutboxRelay
from shared.events.tables import EventTables, define_event_tables
from shared.events.topics import topic_matches

__all__ = [
    "EXCHANGE",
    "Event",
    "EventBus",
    "EventTables",
    "Handler",
    "IdempotentConsumer",
    "MemoryBus",
    "MemoryHub",
    "RetryPolicy",
    "Outbox",
    "OutboxRelay",
    "SessionHandler",
    "create_bus",
    "define_event_tables",
    "get_hub",
    "reset_hub",
    "topic_matches",
]
