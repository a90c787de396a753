"""Outbox, relay and idempotent consumer on SQLite with the in-process bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession as SQLModelAsyncSession

from shared.contracts.auth import UserRegisteredV1
from shared.contracts.engagement import ReferralCreditedV1
from shared.events import (
    Event,
    EventTables,
    IdempotentConsumer,
    MemoryBus,
    Outbox,
    OutboxRelay,
    RetryPolicy,
    define_event_tables,
    get_hub,
)
from testsupport.apps import wait_until

metadata = MetaData()
tables = define_event_tables(metadata)
credits = Table(
    "credits",
    metadata,
    Column("user_id", String(36), primary_key=True),
    Column("balance", Integer, nullable=False),
)
CREDIT = ReferralCreditedV1(referral_id="r1", referrer_user_id="u1", referred_user_id="u2",
                            reward=1)
REGISTERED = UserRegisteredV1(user_id="u1", email="u1@example.com", name="U",
                              referral_code="CODE0001", referred_by_code=None)


class DownBus(MemoryBus):
    """A bus whose broker is unreachable."""

    async def publish(self, event: Event) -> None:
        raise ConnectionError("broker down")


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'service.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


async def stage(sessions: async_sessionmaker) -> Event:
    async with sessions() as session:
        event = await Outbox(tables, "engagement").add(session, CREDIT)
        await session.commit()
    return event


async def pending_rows(engine: AsyncEngine) -> list[tuple[str, int]]:
    outbox = tables.outbox
    async with engine.connect() as connection:
        query = select(outbox.c.id, outbox.c.attempts).where(outbox.c.published_at.is_(None))
        return [tuple(row) for row in await connection.execute(query)]


async def balance(engine: AsyncEngine, user_id: str = "u1") -> int | None:
    async with engine.connect() as connection:
        query = select(credits.c.balance).where(credits.c.user_id == user_id)
        return (await connection.execute(query)).scalar_one_or_none()


async def add_credit(session, event: Event) -> None:
    await session.execute(insert(credits).values(
        user_id=ReferralCreditedV1.of(event).referrer_user_id, balance=1))


def test_event_tables_are_defined_on_the_given_metadata() -> None:
    own = MetaData()

    defined = define_event_tables(own)

    assert isinstance(defined, EventTables)
    assert set(own.tables) == {"outbox_events", "processed_events"}


async def test_committed_event_is_published_by_the_relay(
    engine: AsyncEngine, sessions: async_sessionmaker
) -> None:
    bus = MemoryBus()
    received: list[Event] = []

    async def handle(event: Event) -> None:
        received.append(event)

    await bus.subscribe("auth.referrals", ["referral.credited"], handle)
    event = await stage(sessions)

    published = await OutboxRelay(engine, tables, bus).publish_pending()
    await get_hub().wait_idle()

    assert published == 1
    assert received == [event]
    assert await pending_rows(engine) == []
    await bus.close()


async def test_rolled_back_change_publishes_nothing(
    engine: AsyncEngine, sessions: async_sessionmaker
) -> None:
    async with sessions() as session:
        await Outbox(tables, "engagement").add(session, CREDIT)
        await session.rollback()

    assert await OutboxRelay(engine, tables, MemoryBus()).publish_pending() == 0


async def test_rows_are_published_oldest_first(
    engine: AsyncEngine, sessions: async_sessionmaker
) -> None:
    bus = MemoryBus()
    received: list[str] = []

    async def handle(event: Event) -> None:
        received.append(event.id)

    await bus.subscribe("q", ["#"], handle)
    staged = [(await stage(sessions)).id for _ in range(5)]

    await OutboxRelay(engine, tables, bus, batch_size=2).publish_pending()
    await get_hub().wait_idle()

    assert received == staged
    await bus.close()


async def test_broker_outage_leaves_the_row_pending_then_it_is_published(
    engine: AsyncEngine, sessions: async_sessionmaker
) -> None:
    event = await stage(sessions)

    assert await OutboxRelay(engine, tables, DownBus()).publish_pending() == 0
    assert await pending_rows(engine) == [(event.id, 1)]

    assert await OutboxRelay(engine, tables, MemoryBus()).publish_pending() == 1
    assert await pending_rows(engine) == []


async def test_wake_publishes_without_waiting_for_the_poll(
    engine: AsyncEngine, sessions: async_sessionmaker
) -> None:
    bus = MemoryBus()
    received: list[Event] = []

    async def handle(event: Event) -> None:
        received.append(event)

    await bus.subscribe("q", ["referral.credited"], handle)
    relay = OutboxRelay(engine, tables, bus, poll_interval=3600)
    await relay.start()
    try:
        event = await stage(sessions)
        relay.wake()
        await wait_until(lambda: received == [event])
    finally:
        await relay.stop()
        await bus.close()


async def test_outbox_works_with_a_sqlmodel_session(engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(engine, class_=SQLModelAsyncSession, expire_on_commit=False)

    async with sessions() as session:
        await Outbox(tables, "auth").add(session, REGISTERED)
        await session.commit()

    assert len(await pending_rows(engine)) == 1


async def test_event_delivered_twice_is_applied_once(
    engine: AsyncEngine, sessions: async_sessionmaker
) -> None:
    bus = MemoryBus()
    consumer = IdempotentConsumer(
        sessions, tables, bus, "auth.referrals", {"referral.credited": add_credit}
    )
    await consumer.start()
    event = Event.new(CREDIT.TYPE, "engagement", CREDIT.data())

    await bus.publish(event)
    await bus.publish(event)
    await get_hub().wait_idle()

    # A second application would violate the credits primary key and be dead-lettered.
    assert await balance(engine) == 1
    assert get_hub().dead_letters("auth.referrals") == []
    await bus.close()


async def test_failed_handler_rolls_back_so_the_retry_applies_it(
    engine: AsyncEngine, sessions: async_sessionmaker
) -> None:
    calls = 0

    async def flaky(session, event: Event) -> None:
        nonlocal calls
        calls += 1
        await add_credit(session, event)
        if calls == 1:
            raise RuntimeError("transient")

    bus = MemoryBus()
    await IdempotentConsumer(sessions, tables, bus, "q", {"referral.credited": flaky}).start()

    await bus.publish(Event.new(CREDIT.TYPE, "engagement", CREDIT.data()))
    await get_hub().wait_idle()

    assert calls == 2
    assert await balance(engine) == 1
    await bus.close()


async def test_handler_that_keeps_failing_is_dead_lettered_and_not_recorded(
    engine: AsyncEngine, sessions: async_sessionmaker
) -> None:
    async def poison(session, event: Event) -> None:
        raise RuntimeError("always")

    bus = MemoryBus()
    consumer = IdempotentConsumer(sessions, tables, bus, "q", {"referral.credited": poison},
                                  retry=RetryPolicy(delays=(0.01,), max_attempts=2))
    await consumer.start()

    await bus.publish(Event.new(CREDIT.TYPE, "engagement", CREDIT.data()))
    await get_hub().wait_idle()

    assert len(get_hub().dead_letters("q")) == 1
    async with engine.connect() as connection:
        processed = select(func.count()).select_from(tables.processed)
        assert (await connection.execute(processed)).scalar_one() == 0
    await bus.close()


@pytest.mark.parametrize("event", [
    Event.new(CREDIT.TYPE, "engagement", {**CREDIT.data(), "reward": "one"}),
    Event.new(CREDIT.TYPE, "engagement", {"referralId": "r1"}),
    Event.new(CREDIT.TYPE, "engagement", CREDIT.data(), version=2),
], ids=["wrong-type", "missing-fields", "unknown-major-version"])
async def test_an_event_that_breaks_its_contract_is_dead_lettered_without_retry(
    engine: AsyncEngine, sessions: async_sessionmaker, event: Event,
    caplog: pytest.LogCaptureFixture,
) -> None:
    handled: list[Event] = []

    async def handle(session, event: Event) -> None:
        handled.append(event)

    bus = MemoryBus()
    await IdempotentConsumer(sessions, tables, bus, "q", {"referral.credited": handle},
                             retry=RetryPolicy(delays=(0.01,), max_attempts=5)).start()
    # Another major version travels on its own key; bound here as a replay or a wider
    # binding would bring it, it must still not be read as v1.
    get_hub().declare("q", [event.routing_key])

    await bus.publish(event)
    await get_hub().wait_idle()

    assert handled == []
    assert get_hub().dead_letters("q") == [event]
    [failure] = [r for r in caplog.records if getattr(r, "event", "") == "events.dead_lettered"]
    assert failure.attempts == 1  # type: ignore[attr-defined]
    assert failure.reason.startswith("contract violation: ")  # type: ignore[attr-defined]
    await bus.close()


async def test_the_handler_gets_the_data_parsed_by_its_contract(
    engine: AsyncEngine, sessions: async_sessionmaker
) -> None:
    parsed: list[object] = []

    async def handle(session, event: Event) -> None:
        parsed.append(event.payload)

    bus = MemoryBus()
    await IdempotentConsumer(sessions, tables, bus, "q", {"referral.credited": handle}).start()
    await bus.publish(Event.new(CREDIT.TYPE, "engagement", {**CREDIT.data(), "extra": 1}))
    await get_hub().wait_idle()

    assert parsed == [CREDIT]  # an unknown field is ignored: producers may add optional ones
    await bus.close()


def test_a_consumer_of_a_type_without_a_contract_is_refused() -> None:
    with pytest.raises(ValueError, match="no contract"):
        IdempotentConsumer(create_async_engine("sqlite+aiosqlite://"), tables, MemoryBus(),
                           "q", {"something.happened": add_credit})


async def test_consumers_on_different_queues_each_apply_the_event(
    engine: AsyncEngine, sessions: async_sessionmaker
) -> None:
    applied: list[str] = []

    def handler(name: str):
        async def handle(session, event: Event) -> None:
            applied.append(name)

        return handle

    bus = MemoryBus()
    for queue in ["a", "b"]:
        await IdempotentConsumer(
            sessions, tables, bus, queue, {"user.registered": handler(queue)}
        ).start()

    await bus.publish(Event.new(REGISTERED.TYPE, "auth", REGISTERED.data()))
    await get_hub().wait_idle()

    assert sorted(applied) == ["a", "b"]
    await bus.close()


@pytest.mark.filterwarnings("error")
async def test_consumer_works_with_sqlmodel_sessions_without_warnings(
    engine: AsyncEngine,
) -> None:
    sessions = async_sessionmaker(engine, class_=SQLModelAsyncSession, expire_on_commit=False)
    applied: list[type] = []

    async def handle(session, event: Event) -> None:
        applied.append(type(session))

    bus = MemoryBus()
    await IdempotentConsumer(sessions, tables, bus, "q", {"user.registered": handle}).start()
    event = Event.new(REGISTERED.TYPE, "auth", REGISTERED.data())

    await bus.publish(event)
    await bus.publish(event)
    await get_hub().wait_idle()

    assert applied == [SQLModelAsyncSession]
    assert get_hub().dead_letters("q") == []
    await bus.close()
