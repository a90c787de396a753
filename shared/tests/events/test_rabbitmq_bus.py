"""The RabbitMQ backend against a real broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aio_pika
import pytest

from shared.events import EXCHANGE, Event, RetryPolicy, create_bus
from shared.events.rabbitmq import (
    ATTEMPTS_HEADER,
    OUTAGES_HEADER,
    BrokerUnavailable,
    RabbitMQBus,
)
from testsupport.apps import wait_until

DEAD_BROKER_URL = "amqp://guest:guest@127.0.0.1:5999/"
# Short delays keep the tests quick; the delay lines are real TTL queues all the same.
FAST = RetryPolicy(delays=(0.05, 0.2), max_attempts=3, outage_max_delay=0.1)


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
    rabbit.track(queue, retry=FAST)
    calls = 0

    async def flaky(event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise RuntimeError("bad data, fixed on the third try")

    await bus.subscribe(queue, [key], flaky, retry=FAST)
    await bus.publish(Event.new(key, "tests", {}))

    await wait_until(lambda: calls == 3)
    assert await rabbit.message_count(f"{queue}.dlq") == 0


async def test_a_failed_delivery_waits_in_a_delay_line_not_in_the_queue(
    bus: RabbitMQBus, rabbit, unique: str
) -> None:
    queue, key = f"test.delay.{unique}", f"test.{unique}.delay"
    slow = RetryPolicy(delays=(3600.0,), max_attempts=3)
    rabbit.track(queue, retry=slow)
    calls = 0

    async def fails(event: Event) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("bad data")

    await bus.subscribe(queue, [key], fails, retry=slow)
    await bus.publish(Event.new(key, "tests", {}))

    await wait_until(lambda: calls == 1)
    line = f"{queue}.retry.3600s"
    await wait_until(lambda: _has_messages(rabbit, line))
    message = await rabbit.get(line)
    assert message is not None and message.headers[ATTEMPTS_HEADER] == 1
    assert calls == 1


async def _has_messages(rabbit, queue: str) -> bool:
    return await rabbit.message_count(queue) > 0


async def test_an_outage_is_retried_without_using_up_attempts(
    bus: RabbitMQBus, rabbit, unique: str
) -> None:
    queue, key = f"test.outage.{unique}", f"test.{unique}.outage"
    rabbit.track(queue, retry=FAST)
    calls = 0

    async def database_down_for_a_while(event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls <= 2 * FAST.max_attempts:
            raise ConnectionRefusedError("database unreachable")

    await bus.subscribe(queue, [key], database_down_for_a_while, retry=FAST)
    await bus.publish(Event.new(key, "tests", {}))

    # Twice as many failures as the attempts allow, and still handled, not dead-lettered.
    await wait_until(lambda: calls == 2 * FAST.max_attempts + 1)
    assert await rabbit.message_count(f"{queue}.dlq") == 0


async def test_poison_message_ends_in_the_dead_letter_queue(
    bus: RabbitMQBus, rabbit, unique: str
) -> None:
    queue, key = f"test.poison.{unique}", f"test.{unique}.poison"
    rabbit.track(queue, retry=FAST)
    calls = 0

    async def poison(event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionRefusedError("an outage on the way does not count")
        raise RuntimeError("always")

    await bus.subscribe(queue, [key], poison, retry=FAST)
    event = Event.new(key, "tests", {})
    await bus.publish(event)

    await wait_until(lambda: calls == 4)
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
    assert dead[0].headers[OUTAGES_HEADER] == 1
    assert calls == 4


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


async def test_each_major_version_reaches_only_the_queue_bound_to_it(
    bus: RabbitMQBus, rabbit, unique: str
) -> None:
    old, new, key = f"test.v1.{unique}", f"test.v2.{unique}", f"test.{unique}.moved"
    rabbit.track(old)
    rabbit.track(new)
    received: dict[str, list[int]] = {old: [], new: []}

    def into(queue: str):  # type: ignore[no-untyped-def]
        async def handle(event: Event) -> None:
            received[queue].append(event.version)
        return handle

    await bus.subscribe(old, [key], into(old))
    await bus.subscribe(new, [f"{key}.v2"], into(new))
    await bus.publish(Event.new(key, "tests", {"n": 1}))
    await bus.publish(Event.new(key, "tests", {"n": 1}, version=2))

    await wait_until(lambda: received == {old: [1], new: [2]})
    await asyncio.sleep(0.5)  # a stray copy of the other version would have arrived by now
    assert received == {old: [1], new: [2]}
