"""Gauges of what can go wrong with events, read at each scrape of ``/metrics``.

- ``outbox_pending_events`` and ``outbox_oldest_pending_age_seconds``: events committed
  and not yet published. A growing age means the relay cannot reach the broker.
- ``events_dead_letter_messages``: messages in each consumer queue's DLQ, waiting for a
  human (``python -m shared.events.dlq``).

Read rather than counted, so they are right however many processes a service runs and
whatever happened before this process started. Deliveries retried and dead-lettered are
counted as they happen (``events_deliveries_total``, ``shared.events.delivery``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from prometheus_client import Gauge
from sqlalchemy import func, select

from shared.db import Database
from shared.events.bus import EventBus
from shared.events.tables import EventTables

log = logging.getLogger("shared.events.monitoring")

OUTBOX_PENDING = Gauge("outbox_pending_events", "Outbox events not yet published",
                       ["service"])
OUTBOX_OLDEST_AGE = Gauge("outbox_oldest_pending_age_seconds",
                          "Age of the oldest outbox event not yet published (0: none)",
                          ["service"])
DEAD_LETTERS = Gauge("events_dead_letter_messages",
                     "Messages in a consumer queue's dead-letter queue", ["queue"])


class EventMetrics:
    """Refreshes the gauges of one service; each source gets ``timeout`` seconds, and one
    that does not answer keeps its last value (its outage shows on ``/readyz``)."""

    def __init__(self, service: str, database: Database, tables: EventTables, bus: EventBus,
                 *, timeout: float = 2.0) -> None:
        self._service = service
        self._database = database
        self._bus = bus
        self._timeout = timeout
        outbox = tables.outbox
        self._pending = (select(func.count(), func.min(outbox.c.created_at))
                         .where(outbox.c.published_at.is_(None)))

    async def refresh(self) -> None:
        """Read the outbox and the dead-letter queues now."""
        try:
            async with asyncio.timeout(self._timeout):
                async with self._database.read_session() as session:
                    connection = await session.connection()
                    count, oldest = (await connection.execute(self._pending)).one()
            OUTBOX_PENDING.labels(self._service).set(count)
            OUTBOX_OLDEST_AGE.labels(self._service).set(_age(oldest))
        except Exception as exc:
            log.warning("outbox metrics unavailable", extra={
                "event": "metrics.outbox_unavailable", "error": type(exc).__name__})
        try:
            async with asyncio.timeout(self._timeout):
                counts = await self._bus.dead_letter_counts()
            for queue, count in counts.items():
                DEAD_LETTERS.labels(queue).set(count)
        except Exception as exc:
            log.warning("dead-letter metrics unavailable", extra={
                "event": "metrics.dead_letters_unavailable", "error": type(exc).__name__})


def _age(oldest: datetime | None) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite returns naive UTC
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - oldest).total_seconds())
