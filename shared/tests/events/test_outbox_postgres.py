"""Outbox, relay and idempotent consumer on a real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from shared.contracts import EventContract, Registry
from shared.events import (
    Event,
    IdempotentConsumer,
    MemoryBus,
    Outbox,
    OutboxRelay,
    define_event_tables,
)
from shared.events.rabbitmq import RabbitMQBus
from testsupport.apps import wait_until

DEAD_BROKER_URL = "amqp://guest:guest@127.0.0.1:5999/"

metadata = MetaData()
tables = define_event_tables(metadata)
balances = Table(
    "balances",
    metadata,
    Column("user_id", String(36), primary_key=True),
    Column("rewards", Integer, nullable=False),
)


def credited(key: str) -> type[EventContract]:
    """A contract of ``key``: each test routes a key of its own, so runs never mix."""

    class Credited(EventContract):
        TYPE: ClassVar[str] = key
        user_id: str

    return Credited


class Numbered(EventContract):
    TYPE: ClassVar[str] = "test.numbered"
    n: int


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(postgres_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(insert(balances).values(user_id="u1", rewards=0))
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


async def credit_reward(session, event: Event) -> None:
    await session.execute(
        update(balances)
        .where(balances.c.user_id == event.data["userId"])
        .values(rewards=balances.c.rewards + 1)
    )


async def rewards(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        query = select(balances.c.rewards).where(balances.c.user_id == "u1")
        return (await connection.execute(query)).scalar_one()


async def test_outbox_survives_a_broker_that_is_down_at_commit(
    engine: AsyncEngine, sessions: async_sessionmaker, amqp_url: str, rabbit, unique: str
) -> None:
    queue, key = f"test.outbox.{unique}", f"test.{unique}.credited"
    rabbit.track(queue)
    live = RabbitMQBus(amqp_url)
    await live.start()
    received: list[Event] = []

    async def handle(event: Event) -> None:
        received.append(event)

    await live.subscribe(queue, [key], handle)
    async with sessions() as session:
        event = await Outbox(tables, "engagement").add(session, credited(key)(user_id="u1"))
        await session.commit()

    down = RabbitMQBus(DEAD_BROKER_URL, connect_timeout=2)
    assert await OutboxRelay(engine, tables, down).publish_pending() == 0
    await down.close()
    async with engine.connect() as connection:
        row = (await connection.execute(select(tables.outbox))).one()
    assert row.published_at is None
    assert row.attempts == 1

    assert await OutboxRelay(engine, tables, live).publish_pending() == 1
    await wait_until(lambda: received == [event])
    await live.close()


async def test_redelivered_event_is_applied_once(
    engine: AsyncEngine, sessions: async_sessionmaker, amqp_url: str, rabbit, unique: str
) -> None:
    queue, key = f"test.idem.{unique}", f"test.{unique}.credited"
    rabbit.track(queue)
    bus = RabbitMQBus(amqp_url)
    await bus.start()
    seen: list[str] = []

    async def counted(session, event: Event) -> None:
        seen.append(event.id)
        await credit_reward(session, event)

    consumer = IdempotentConsumer(sessions, tables, bus, queue, {key: counted},
                                  contracts=Registry([credited(key)]))
    deliveries: list[str] = []

    async def counting(event: Event) -> None:
        await consumer.handle(event)
        deliveries.append(event.id)

    # Subscribed by hand (instead of consumer.start()) to count deliveries, duplicates too.
    await bus.subscribe(queue, [key], counting)
    event = Event.new(key, "engagement", {"userId": "u1"})

    await bus.publish(event)
    await bus.publish(event)
    await wait_until(lambda: deliveries == [event.id, event.id])

    assert seen == [event.id]
    assert await rewards(engine) == 1
    await bus.close()


async def test_concurrent_duplicates_are_applied_once(
    engine: AsyncEngine, sessions: async_sessionmaker
) -> None:
    started = asyncio.Event()

    async def slow(session, event: Event) -> None:
        started.set()
        await asyncio.sleep(0.2)  # hold the claim so the duplicate waits on it
        await credit_reward(session, event)

    consumer = IdempotentConsumer(sessions, tables, MemoryBus(), "q", {"t": slow},
                                  contracts=Registry([credited("t")]))
    event = Event.new("t", "p", {"userId": "u1"})

    async def duplicate() -> None:
        await started.wait()
        await consumer.handle(event)

    await asyncio.gather(consumer.handle(event), duplicate())

    assert await rewards(engine) == 1


async def test_relays_sharing_a_database_publish_each_row_once(
    engine: AsyncEngine, sessions: async_sessionmaker
) -> None:
    published: list[str] = []

    class SlowBus(MemoryBus):
        async def publish(self, event: Event) -> None:
            await asyncio.sleep(0.001)  # let the other relay run while rows are locked
            published.append(event.id)

    async with sessions() as session:
        outbox = Outbox(tables, "auth")
        staged = [(await outbox.add(session, Numbered(n=n))).id for n in range(40)]
        await session.commit()

    relays = [OutboxRelay(engine, tables, SlowBus(), batch_size=5) for _ in range(3)]
    counts = await asyncio.gather(*(relay.publish_pending() for relay in relays))

    assert sum(counts) == 40
    assert sorted(published) == sorted(staged)
