"""Transactional outbox: stage events in the business transaction, publish them after.

An event is published if and only if the change that caused it committed: ``Outbox.add``
writes the envelope into ``outbox_events`` inside the caller's transaction, and
``OutboxRelay`` publishes committed rows, marking each one only after the broker
confirmed it. A broker outage leaves rows pending; they go out when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from opentelemetry.trace import SpanKind
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.contracts import EventContract
from shared.events._sessions import SessionFactory, as_sessionmaker, execute
from shared.events.bus import EventBus
from shared.events.delivery import causation_var
from shared.events.envelope import Event
from shared.events.idempotent import IdempotentConsumer
from shared.events.tables import EventTables
from shared.logging import request_id_var
from shared.tracing import enabled, message_span, new_event_traceparent

__all__ = ["IdempotentConsumer", "Outbox", "OutboxRelay"]

logger = logging.getLogger("shared.events.outbox")

STAGED_FLAG = "outbox_staged"
"""Set in ``session.info`` by ``Outbox.add``, so a commit hook knows to wake the relay."""


class Outbox:
    """Stages a service's events in its own database."""

    def __init__(self, tables: EventTables, producer: str) -> None:
        # Built once: a statement made per call costs SQLAlchemy a cache-key walk every
        # time, and this runs in every write transaction of every service.
        self._insert = insert(tables.outbox)
        self._producer = producer

    async def add(self, session: AsyncSession, payload: EventContract) -> Event:
        """Stage ``payload``'s event (its contract's type and version, its data) in
        ``session``'s transaction; the caller commits.

        Nothing is published until that commit (and the relay's next pass, or ``wake()``).
        Works with SQLAlchemy's and SQLModel's ``AsyncSession``. The event carries the
        current request id (or the handled event's correlation id) and, inside an event
        handler, the handled event's id as its cause. With tracing on, it also carries the
        ``create`` span opened here, the child of the current request's or handler's span.
        """
        event = Event.new(payload.TYPE, self._producer, payload.data(),
                          version=payload.VERSION, correlation_id=request_id_var.get() or None,
                          causation_id=causation_var.get() or None)
        if enabled():
            event = event.model_copy(update={"traceparent": new_event_traceparent(
                self._producer, payload.TYPE, event.id)})
        await execute(session, self._insert, {
            "id": event.id, "type": event.type, "payload": event.to_json().decode(),
            "created_at": event.occurred_at, "attempts": 0})
        session.info[STAGED_FLAG] = True
        return event


class OutboxRelay:
    """Publishes pending outbox rows, oldest first, and marks them once confirmed.

    Safe with several processes on one PostgreSQL database: rows are selected ``FOR
    UPDATE SKIP LOCKED`` in the transaction that marks them, so each row is published by
    one relay at a time. (SQLite ignores the locking clause; use one process there.)

    ``linger`` is how long a pass waits after a wake-up when the previous pass found
    more than one event (the service is busy): the events of many commits then share one
    select and one update (measured with ``bench/ingest.py``), for a few milliseconds
    more of event latency under load and none when quiet.
    """

    def __init__(
        self,
        engine_or_sessionmaker: AsyncEngine | SessionFactory,
        tables: EventTables,
        bus: EventBus,
        *,
        poll_interval: float = 1.0,
        batch_size: int = 100,
        linger: float = 0.02,
    ) -> None:
        self._sessionmaker = as_sessionmaker(engine_or_sessionmaker)
        self._bus = bus
        self._poll_interval = poll_interval
        self._linger = linger
        self._batch_size = batch_size
        table = tables.outbox
        self._select_pending = (
            select(table.c.id, table.c.payload)
            .where(table.c.published_at.is_(None))
            .order_by(table.c.created_at, table.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True))
        self._mark_published = (update(table)
                                .where(table.c.id.in_(bindparam("ids", expanding=True)))
                                .values(published_at=bindparam("now")))
        self._count_attempt = (update(table).where(table.c.id == bindparam("failed"))
                               .values(attempts=table.c.attempts + 1))
        self._wake = asyncio.Event()
        # One pass at a time in this process: SQLite has no row locks to keep two
        # passes (the background one and a direct call) from publishing a row twice.
        self._pass_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run the relay in a background task until ``stop()``."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Stop the background task; pending rows stay for the next start."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        """Publish now instead of at the next poll; call it after committing an event."""
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish every pending row it can; returns how many were published.

        Stops at the first failed publish (the broker is most likely down) and leaves
        that row pending with ``attempts`` incremented, so order is kept and nothing lost.
        """
        total = 0
        async with self._pass_lock:
            while True:
                published, more = await self._publish_batch()
                total += published
                if not more:
                    return total

    async def _publish_batch(self) -> tuple[int, bool]:
        """Publish one batch; returns (published, whether another batch may be waiting)."""
        async with self._sessionmaker() as session, session.begin():
            rows = (await execute(session, self._select_pending)).all()
            # Publish the whole batch at once and wait for every confirm together: one
            # channel keeps them in order on the wire, and a pass costs one confirm wait
            # instead of one per event.
            publish = self._traced_publish if enabled() else self._bus.publish
            outcomes = await asyncio.gather(
                *(publish(Event.from_json(row.payload)) for row in rows),
                return_exceptions=True,
            )
            published: list[str] = []
            failed: str | None = None
            for row, outcome in zip(rows, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    # Keep order: this row and everything after it stay pending (a row
                    # after it that did get through is published again later; consumers
                    # are idempotent).
                    failed = row.id
                    logger.warning(
                        "outbox publish failed, will retry",
                        exc_info=outcome,
                        extra={"event": "outbox.publish_failed", "eventId": row.id},
                    )
                    break
                published.append(row.id)
            if published:
                await execute(session, self._mark_published,
                              {"ids": published, "now": datetime.now(UTC)})
            if failed is not None:
                await execute(session, self._count_attempt, {"failed": failed})
        if published:
            logger.debug(
                "outbox published", extra={"event": "outbox.published", "count": len(published)}
            )
        return len(published), failed is None and len(rows) == self._batch_size

    async def _traced_publish(self, event: Event) -> None:
        with message_span(event.producer, "send", event, kind=SpanKind.CLIENT):
            await self._bus.publish(event)

    async def _run(self) -> None:
        busy = False
        while True:
            if busy:
                # Under load, linger a moment so the events of concurrent commits go out
                # in one pass (one select, one update) instead of one pass each; when
                # quiet, an event goes out at once.
                await asyncio.sleep(self._linger)
            self._wake.clear()
            published = 0
            try:
                published = await self.publish_pending()
            except Exception:
                # Database trouble: log and try again at the next poll, never die.
                logger.exception("outbox relay pass failed", extra={"event": "outbox.failed"})
            busy = published > 1
            # asyncio.timeout, not wait_for: on Python 3.11 cancelling a task parked in
            # wait_for can leave it hanging forever, and stop() cancels this one.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._wake.wait()
