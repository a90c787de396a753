"""The dead-letter command on a real broker: list what failed, replay it once fixed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from shared.contracts.auth import UserRegisteredV1
from shared.events import Event, RetryPolicy
from shared.events.dlq import list_dead_letters, main, replay
from shared.events.rabbitmq import RabbitMQBus
from testsupport.apps import wait_until
from testsupport.infra import create_throwaway_vhost

POLICY = RetryPolicy(delays=(0.05, 0.1), max_attempts=3, outage_max_delay=0.05)
QUEUE = "engagement.users"


@pytest.fixture
def vhost_url(amqp_url: str) -> Iterator[str]:
    url, drop = create_throwaway_vhost(amqp_url, prefix="ma_dlq_test")
    try:
        yield url
    finally:
        drop()


async def test_a_poison_message_is_listed_then_replayed_once_fixed(
        vhost_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    bus = RabbitMQBus(vhost_url, declare={QUEUE: ("user.registered",)})
    fixed = False
    handled: list[str] = []
    calls = 0

    async def handle(event: Event) -> None:
        nonlocal calls
        calls += 1
        if not fixed and event.data["poison"]:
            raise KeyError("referralCode")
        handled.append(event.id)

    await bus.subscribe(QUEUE, ["user.registered"], handle, retry=POLICY)
    poison = Event.new("user.registered", "auth", {"poison": True})
    healthy = Event.new("user.registered", "auth", {"poison": False})
    await bus.publish(poison)
    await bus.publish(healthy)

    async def dead_lettered() -> bool:
        return (await bus.dead_letter_counts()).get(QUEUE) == 1

    await wait_until(dead_lettered, within=20)
    assert calls == POLICY.max_attempts + 1  # three tries of the poison, one of the other
    assert handled == [healthy.id]

    listed = await list_dead_letters(vhost_url, queues=[QUEUE, "auth.referral-credited"])
    assert [(e.queue, e.count) for e in listed] == [(QUEUE, 1)]  # the other has no DLQ
    sample = listed[0].samples[0]
    assert sample["messageId"] == poison.id and sample["attempts"] == POLICY.max_attempts
    assert sample["envelope"]["data"] == {"poison": True}
    assert sample["reason"] == f"failed {POLICY.max_attempts} times, last: KeyError: 'referralCode'"
    # Looking did not take it away.
    assert (await list_dead_letters(vhost_url, queues=[QUEUE]))[0].count == 1

    fixed = True
    assert await replay(vhost_url, QUEUE, event_ids=["some-other-event"]) == 0
    await asyncio.to_thread(main, ["--amqp-url", vhost_url, "replay", QUEUE, "--id", poison.id])
    assert f"replayed 1 message(s) from {QUEUE}.dlq" in capsys.readouterr().out

    await wait_until(lambda: handled == [healthy.id, poison.id], within=20)
    assert (await bus.dead_letter_counts())[QUEUE] == 0
    await bus.close()


async def test_list_prints_counts_and_samples_as_json(
        vhost_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    bus = RabbitMQBus(vhost_url)

    async def fail(event: Event) -> None:
        raise ValueError("always")

    await bus.subscribe(QUEUE, ["user.registered"], fail,
                        retry=RetryPolicy(delays=(0.05,), max_attempts=1))
    await bus.publish(Event.new("user.registered", "auth", {"n": 1}))

    async def dead_lettered() -> bool:
        return (await bus.dead_letter_counts()).get(QUEUE) == 1

    await wait_until(dead_lettered, within=20)
    await bus.close()

    await asyncio.to_thread(main, ["--amqp-url", vhost_url, "list", "--json", "--samples", "5"])
    listed = json.loads(capsys.readouterr().out)
    assert [(e["deadLetterQueue"], e["count"]) for e in listed] == [(f"{QUEUE}.dlq", 1)]
    await asyncio.to_thread(main, ["--amqp-url", vhost_url, "list"])
    assert "1 dead-lettered message(s) in 1 DLQs" in capsys.readouterr().out


async def test_data_that_breaks_its_contract_is_listed_with_the_reason_after_one_try(
        vhost_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    bus = RabbitMQBus(vhost_url)
    calls = 0

    async def parse(event: Event) -> None:
        nonlocal calls
        calls += 1
        UserRegisteredV1.of(event)

    await bus.subscribe(QUEUE, ["user.registered"], parse, retry=POLICY)
    await bus.publish(Event.new("user.registered", "auth", {"userId": "u1", "email": None}))

    async def dead_lettered() -> bool:
        return (await bus.dead_letter_counts()).get(QUEUE) == 1

    await wait_until(dead_lettered, within=20)
    await bus.close()

    await asyncio.to_thread(main, ["--amqp-url", vhost_url, "list"])
    out = capsys.readouterr().out
    assert calls == 1
    assert '"attempts": 1' in out
    assert ('"reason": "contract violation: user.registered v1: email: Input should be a valid '
            'string; name: Field required;') in out
