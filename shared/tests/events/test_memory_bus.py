import asyncio

from shared.events import Event, MemoryBus, RetryPolicy, create_bus, get_hub
from testsupport.apps import wait_until


async def test_memory_url_gives_the_in_process_bus() -> None:
    assert isinstance(create_bus("memory://"), MemoryBus)


async def test_event_from_one_service_reaches_another_services_queue() -> None:
    producer, consumer = create_bus("memory://"), create_bus("memory://")
    received: list[Event] = []

    async def handle(event: Event) -> None:
        received.append(event)

    await consumer.subscribe("engagement.users", ["user.registered"], handle)
    event = Event.new("user.registered", "auth", {"userId": "u1"})
    await producer.publish(event)
    await get_hub().wait_idle()

    assert received == [event]
    await consumer.close()


async def test_wildcard_binding_routes_matching_types_only() -> None:
    bus = MemoryBus()
    received: list[str] = []

    async def handle(event: Event) -> None:
        received.append(event.type)

    await bus.subscribe("telematics.vehicles", ["vehicle.*"], handle)
    for type_ in ["vehicle.created", "user.registered", "vehicle.deleted"]:
        await bus.publish(Event.new(type_, "p", {}))
    await get_hub().wait_idle()

    assert received == ["vehicle.created", "vehicle.deleted"]
    await bus.close()


async def test_a_queue_delivers_in_publish_order() -> None:
    bus = MemoryBus()
    received: list[int] = []

    async def handle(event: Event) -> None:
        await asyncio.sleep(0)
        received.append(event.data["n"])

    await bus.subscribe("q", ["n"], handle)
    for n in range(20):
        await bus.publish(Event.new("n", "p", {"n": n}))
    await get_hub().wait_idle()

    assert received == list(range(20))
    await bus.close()


async def test_two_subscribers_of_one_queue_share_its_messages() -> None:
    first, second = MemoryBus(), MemoryBus()
    seen: list[tuple[str, int]] = []

    def handler(name: str):
        async def handle(event: Event) -> None:
            await asyncio.sleep(0)
            seen.append((name, event.data["n"]))

        return handle

    await first.subscribe("chat.fanout", ["chat.message.created"], handler("a"))
    await second.subscribe("chat.fanout", ["chat.message.created"], handler("b"))
    for n in range(10):
        await first.publish(Event.new("chat.message.created", "chat", {"n": n}))
    await get_hub().wait_idle()

    assert sorted(n for _, n in seen) == list(range(10))
    assert {name for name, _ in seen} == {"a", "b"}
    await first.close()
    await second.close()


async def test_each_queue_gets_its_own_copy() -> None:
    bus = MemoryBus()
    counts = {"a": 0, "b": 0}

    def handler(name: str):
        async def handle(event: Event) -> None:
            counts[name] += 1

        return handle

    await bus.subscribe("a", ["x.y"], handler("a"))
    await bus.subscribe("b", ["x.#"], handler("b"))
    await bus.publish(Event.new("x.y", "p", {}))
    await get_hub().wait_idle()

    assert counts == {"a": 1, "b": 1}
    await bus.close()


async def test_failed_handler_is_retried_until_it_succeeds() -> None:
    bus = MemoryBus()
    calls = 0

    async def flaky(event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise RuntimeError("transient")

    await bus.subscribe("q", ["t"], flaky, retry=RetryPolicy(delays=(0.01,), max_attempts=5))
    await bus.publish(Event.new("t", "p", {}))
    await get_hub().wait_idle()

    assert calls == 3
    assert get_hub().dead_letters("q") == []
    await bus.close()


async def test_message_is_dead_lettered_after_max_attempts() -> None:
    bus = MemoryBus()
    calls = 0

    async def poison(event: Event) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("always")

    await bus.subscribe("q", ["t"], poison, retry=RetryPolicy(delays=(0.01,), max_attempts=3))
    event = Event.new("t", "p", {})
    await bus.publish(event)
    await get_hub().wait_idle()

    assert calls == 3
    assert get_hub().dead_letters("q") == [event]
    await bus.close()


async def test_poison_message_does_not_block_the_next_one() -> None:
    bus = MemoryBus()
    handled: list[str] = []

    async def handle(event: Event) -> None:
        if event.data["poison"]:
            raise RuntimeError("poison")
        handled.append(event.id)

    await bus.subscribe("q", ["t"], handle, retry=RetryPolicy(delays=(0.01,), max_attempts=3))
    await bus.publish(Event.new("t", "p", {"poison": True}))
    good = Event.new("t", "p", {"poison": False})
    await bus.publish(good)
    await wait_until(lambda: handled == [good.id])
    await get_hub().wait_idle()

    assert len(get_hub().dead_letters("q")) == 1
    await bus.close()


async def test_queue_keeps_messages_while_no_consumer_runs() -> None:
    bus = MemoryBus()
    received: list[Event] = []

    async def handle(event: Event) -> None:
        received.append(event)

    await bus.subscribe("q", ["t"], handle)
    await bus.close()
    event = Event.new("t", "p", {})
    await bus.publish(event)

    restarted = MemoryBus()
    await restarted.subscribe("q", ["t"], handle)
    await get_hub().wait_idle()

    assert received == [event]
    await restarted.close()


async def test_event_without_bound_queue_is_dropped() -> None:
    bus = MemoryBus()

    await bus.publish(Event.new("nobody.listens", "p", {}))
    await get_hub().wait_idle()
    await bus.ping()


async def test_broadcast_reaches_every_bus_and_goes_with_it() -> None:
    first, second, publisher = MemoryBus(), MemoryBus(), MemoryBus()
    seen: dict[str, list[str]] = {"first": [], "second": []}

    async def record(name: str, event: Event) -> None:
        seen[name].append(event.id)

    await first.subscribe_broadcast(["chat.#"], lambda event: record("first", event))
    await second.subscribe_broadcast(["chat.#"], lambda event: record("second", event))
    event = Event.new("chat.message.created", "tests", {})
    await publisher.publish(event)
    await get_hub().wait_idle()
    assert seen == {"first": [event.id], "second": [event.id]}

    await second.close()
    later = Event.new("chat.message.created", "tests", {})
    await publisher.publish(later)
    await get_hub().wait_idle()
    assert seen == {"first": [event.id, later.id], "second": [event.id]}
    await first.close()


async def test_failing_broadcast_handler_is_not_retried() -> None:
    bus = MemoryBus()
    calls: list[str] = []

    async def fail(event: Event) -> None:
        calls.append(event.id)
        raise RuntimeError("socket gone")

    await bus.subscribe_broadcast(["chat.#"], fail)
    await bus.publish(Event.new("chat.typing", "tests", {}))
    await get_hub().wait_idle()
    assert len(calls) == 1
    await bus.close()
