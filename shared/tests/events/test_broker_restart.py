"""A real broker restart: the robust connection recovers and the outbox loses nothing.

It stops the local RabbitMQ and always starts it again, whatever happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from shared.contracts import EventContract
from shared.events import Event, Outbox, OutboxRelay, define_event_tables
from shared.events.rabbitmq import RabbitMQBus
from testsupport.apps import wait_until

metadata = MetaData()
tables = define_event_tables(metadata)


def restarted(key: str) -> type[EventContract]:
    """A contract of ``key``: each run routes a key of its own."""

    class Restarted(EventContract):
        TYPE: ClassVar[str] = key

    return Restarted


async def rabbitmqctl(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(postgres_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.mark.broker_restart
async def test_events_committed_while_the_broker_restarts_are_delivered(
    engine: AsyncEngine, amqp_url: str, rabbit, unique: str
) -> None:
    queue, key = f"test.restart.{unique}", f"test.{unique}.restart"
    rabbit.track(queue)
    bus = RabbitMQBus(amqp_url, publish_timeout=2)
    await bus.start()
    received: list[Event] = []

    async def handle(event: Event) -> None:
        received.append(event)

    await bus.subscribe(queue, [key], handle)
    relay = OutboxRelay(engine, tables, bus)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        await rabbitmqctl("stop_app")
        async with sessions() as session:
            event = await Outbox(tables, "tests").add(session, restarted(key)())
            await session.commit()
        assert await relay.publish_pending() == 0
    finally:
        await rabbitmqctl("start_app")

    published = 0

    async def relay_published() -> bool:
        nonlocal published
        published += await relay.publish_pending()
        return published == 1

    # The robust connection restores the channel, queue and consumer on its own.
    await wait_until(relay_published, within=60, interval=0.5)
    await wait_until(lambda: received == [event], within=30)
    await bus.close()
