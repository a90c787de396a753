"""Event bus: envelope, in-process and RabbitMQ backends, transactional outbox.

Typical service wiring::

    tables = define_event_tables(metadata)
    bus = create_bus(settings.amqp_url)          # "memory://" or "amqp://..."
    outbox = Outbox(tables, producer="auth")
    relay = OutboxRelay(engine, tables, bus)
    consumer = IdempotentConsumer(sessionmaker, tables, bus, "auth.referrals",
                                  {"referral.credited": on_referral_credited})
    await bus.start(); await relay.start(); await consumer.start()
"""

from shared.events.bus import (
    DEFAULT_MAX_ATTEMPTS,
    EXCHANGE,
    EventBus,
    Handler,
    create_bus,
    dead_letter_queue_name,
)
from shared.events.envelope import Event
from shared.events.idempotent import IdempotentConsumer, SessionHandler
from shared.events.memory import MemoryBus, MemoryHub, get_hub, reset_hub
from shared.events.outbox import Outbox, OutboxRelay
from shared.events.tables import EventTables, define_event_tables
from shared.events.topics import topic_matches

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "EXCHANGE",
    "Event",
    "EventBus",
    "EventTables",
    "Handler",
    "IdempotentConsumer",
    "MemoryBus",
    "MemoryHub",
    "Outbox",
    "OutboxRelay",
    "SessionHandler",
    "create_bus",
    "dead_letter_queue_name",
    "define_event_tables",
    "get_hub",
    "reset_hub",
    "topic_matches",
]
