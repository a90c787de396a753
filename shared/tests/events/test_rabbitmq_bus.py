"""The RabbitMQ backend against a real broker."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aio_pika
import pytest

from shared.events import EXCHANGE, Event, create_bus
from shared.events.rabbitmq import ATTEMPTS_HEADER, BrokerUnavailable, RabbitMQBus
from shared.testing import wait_until

DEAD_BROKER_URL = "amqp://guest:guest@127.0.0.1:5999/"


@pytest.fixture
async def bus(amqp_url: str) -> AsyncIterator[RabbitMQBus]:
    bus = RabbitMQBus(amqp_url)
    await bus.start()
    yield bus
    await bus.close()


async def test_amqp_url_gives_the_rabbitmq_bus(amqp_url: str) -> None:
    assert isinstance(create_bus(amqp_url), RabbitMQBus)


async def test_published_event_reaches_the_subscribed_queue(
    bus: RabbitMQBus, rabbit, unique: str
) -> None:
    queue, key = f"test.consume.{unique}", f"test.{unique}.created"
    rabbit.track(queue)
    received: list[Event] = []

    async def handle(event: Event) -> None:
        received.append(event)

    await bus.subscribe(queue, [key], handle)
    event = Event.new(key, "tests", {"n": 1})
    await bus.publish(event)

    await wait_until(lambda: received == [event])


async def test_message_is_persistent_json_with_the_event_id(
    bus: RabbitMQBus, rabbit, unique: str
) -> None:
    queue, key = f"test.raw.{unique}", f"test.{unique}.raw"
    rabbit.track(queue)
    async with rabbit.connection.channel() as channel:
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        raw = await channel.declare_queue(queue, durable=True)
        await raw.bind(exchange, key)
    event = Event.new(key, "tests", {"n": 1})

    await bus.publish(event)

    message = await rabbit.get(queue)
    assert message is not None
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.content_type == "application/json"
    assert message.message_id == event.id
    assert message.type == key
    assert json.loads(message.body)["occurredAt"].endswith("Z")


async def test_wildcard_binding_receives_matching_types(
    bus: RabbitMQBus, rabbit, unique: str
) -> None:
    queue = f"test.wild.{unique}"
    rabbit.track(queue)
    received: list[str] = []

    async def handle(event: Event) -> None:
        received.append(event.type)

    await bus.subscribe(queue, [f"{unique}.#"], handle)
    await bus.publish(Event.new(f"other.{unique}", "tests", {}))
    await bus.publish(Event.new(f"{unique}.a.b", "tests", {}))

    await wait_until(lambda: received == [f"{unique}.a.b"])


async def test_failed_handler_is_retried_then_acked(bus: RabbitMQBus, rabbit, unique: str) -> None:
    queue, key = f"test.retry.{unique}", f"test.{unique}.retry"
    rabbit.track(queue)
    calls = 0

    async def flaky(event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise RuntimeError("transient")

    await bus.subscribe(queue, [key], flaky, max_attempts=5)
    await bus.publish(Event.new(key, "tests", {}))

    await wait_until(lambda: calls == 3)
    assert await rabbit.message_count(f"{queue}.dlq") == 0


async def test_poison_message_ends_in_the_dead_letter_queue(
    bus: RabbitMQBus, rabbit, unique: str
) -> None:
    queue, key = f"test.poison.{unique}", f"test.{unique}.poison"
    rabbit.track(queue)
    calls = 0

    async def poison(event: Event) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("always")

    await bus.subscribe(queue, [key], poison, max_attempts=3)
    event = Event.new(key, "tests", {})
    await bus.publish(event)

    await wait_until(lambda: calls == 3)
    dead: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def dead_lettered() -> bool:
        message = await rabbit.get(f"{queue}.dlq")
        if message is not None:
            dead.append(message)
        return bool(dead)

    await wait_until(dead_lettered)
    assert len(dead) == 1
    assert dead[0].message_id == event.id
    assert dead[0].headers[ATTEMPTS_HEADER] == 3
    assert calls == 3


async def test_publish_to_an_unreachable_broker_raises() -> None:
    bus = RabbitMQBus(DEAD_BROKER_URL, connect_timeout=2)

    with pytest.raises(BrokerUnavailable):
        await bus.publish(Event.new("a.b", "tests", {}))
    with pytest.raises(BrokerUnavailable):
        await bus.ping()
    await bus.close()


async def test_ping_succeeds_on_a_live_broker(bus: RabbitMQBus) -> None:
    await bus.ping()


async def test_broadcast_gives_every_process_its_own_copy(amqp_url: str, unique: str) -> None:
    key = f"test.{unique}.broadcast"
    replicas = [RabbitMQBus(amqp_url), RabbitMQBus(amqp_url)]
    received: list[list[str]] = [[], []]
    for index, replica in enumerate(replicas):
        async def handle(event: Event, index: int = index) -> None:
            received[index].append(event.id)

        await replica.start()
        await replica.subscribe_broadcast([key], handle)
    publisher = RabbitMQBus(amqp_url)
    event = Event.new(key, "tests", {"n": 1})
    try:
        await publisher.publish(event)
        await wait_until(lambda: received == [[event.id], [event.id]])
    finally:
        for bus in (*replicas, publisher):
            await bus.close()
