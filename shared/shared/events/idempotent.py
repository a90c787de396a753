"""Consumers that apply each event once, however often the bus delivers it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.contracts import CONTRACTS, ContractViolation, Registry
from shared.events._sessions import SessionFactory, as_sessionmaker, execute
from shared.events.bus import EventBus
from shared.events.delivery import RetryPolicy
from shared.events.envelope import Event
from shared.events.tables import EventTables
from shared.tracing import traced_handler

logger = logging.getLogger("shared.events.consumer")

SessionHandler = Callable[[AsyncSession, Event], Awaitable[None]]


class IdempotentConsumer:
    """Subscribes ``queue`` to its handlers' event types and applies each event once.

    Each delivery runs in one transaction that first records (queue, event id) in
    ``processed_events`` and then runs the handler with the same session; the bus acks
    only after the commit. A redelivered event finds its row and is skipped. On
    PostgreSQL a concurrent duplicate waits on the primary key and then fails with a
    unique violation, which also means "already applied".

    Before anything is claimed, the event's ``data`` is parsed by the contract of its type
    and major version (``contracts``, the platform's catalogue by default) and handed to
    the handler attached to the event (``SomeEventV1.of(event)``); an unknown version or
    data that does not validate raises ``ContractViolation``, which the bus dead-letters
    at once with the reason. Every handled type must have a contract.

    ``service`` names the consumer's spans when tracing is on (default: the queue).
    """

    def __init__(
        self,
        sessionmaker: AsyncEngine | SessionFactory,
        tables: EventTables,
        bus: EventBus,
        queue: str,
        handlers: Mapping[str, SessionHandler],
        *,
        retry: RetryPolicy | None = None,
        service: str = "",
        contracts: Registry = CONTRACTS,
    ) -> None:
        # Handlers are keyed by routing key: the type for major 1, `<type>.v<N>` past it.
        missing = sorted(set(handlers) - contracts.routing_keys)
        if missing:
            raise ValueError(f"consumer queue {queue!r} handles {missing}, which have no "
                             "contract (shared/shared/contracts/)")
        self._contracts = contracts
        self._service = service or queue
        self._sessionmaker = as_sessionmaker(sessionmaker)
        self._table = tables.processed
        self._bus = bus
        self._queue = queue
        self._handlers = dict(handlers)
        self._types = {contracts.type_of(key) for key in handlers}
        self._retry = retry

    async def start(self) -> None:
        """Subscribe the queue to every event type that has a handler."""
        handle = traced_handler(self._service, self._queue, self.handle)
        await self._bus.subscribe(self._queue, sorted(self._handlers), handle, retry=self._retry)

    async def handle(self, event: Event) -> None:
        """Apply ``event`` unless this queue already did; raises if the handler fails."""
        handler = self._handlers.get(event.routing_key)
        if handler is None and event.type in self._types:
            # A major version of a type it handles, which reached it anyway (a replay, a
            # wider binding): it cannot be read as the version the handler expects.
            raise ContractViolation(f"{event.type} v{event.version} is not a version queue "
                                    f"{self._queue} handles")
        if handler is None:
            logger.warning(
                "no handler for event type",
                extra={"event": "events.unhandled", "queue": self._queue, "eventType": event.type},
            )
            return
        event = event.with_payload(self._contracts.parse(event))
        async with self._sessionmaker() as session:
            if not await self._claim(session, event):
                await session.rollback()
                logger.info(
                    "duplicate event skipped",
                    extra={"event": "events.duplicate", "queue": self._queue, "eventId": event.id},
                )
                return
            # A handler exception leaves the block without commit: the session rolls back
            # both the claim and the handler's writes, and the bus retries.
            await handler(session, event)
            await session.commit()

    async def _claim(self, session: AsyncSession, event: Event) -> bool:
        """Record the event as processed in the open transaction; False if it already is."""
        try:
            await execute(
                session,
                insert(self._table).values(
                    consumer=self._queue, event_id=event.id, processed_at=datetime.now(UTC)
                ),
            )
        except IntegrityError:
            return False
        return True
