"""Retry rules, outage classification, the event catalogue and the context of a handler."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy.exc

from shared.contracts.auth import UserRegisteredV1
from shared.contracts.engagement import ReferralCreditedV1
from shared.errors import ServiceUnavailable
from shared.events import Event, MemoryBus, Outbox, RetryPolicy, define_event_tables, get_hub
from shared.events.catalog import QUEUES, check_consumers
from shared.events.delivery import causation_var, handling, is_outage, judge
from shared.logging import request_id_var
from shared.settings import ServiceSettings

POLICY = RetryPolicy(delays=(1, 5, 30, 120, 600), max_attempts=6, outage_max_delay=10)


def test_failures_wait_longer_each_time_then_dead_letter() -> None:
    attempts, delays = 0, []
    while True:
        verdict = judge(POLICY, ValueError("bad data"), attempts, 0)
        if verdict.dead_letter:
            break
        delays.append(verdict.delay)
        attempts = verdict.attempts

    assert delays == [1, 5, 30, 120, 600]
    assert verdict.attempts == 6 and verdict.outcome == "dead_lettered"


def test_the_last_delay_repeats_when_attempts_outnumber_delays() -> None:
    policy = RetryPolicy(delays=(1, 2), max_attempts=5)

    assert [policy.delay(n) for n in range(1, 5)] == [1, 2, 2, 2]


@pytest.mark.parametrize("error", [
    sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused")),
    sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
    sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("connection closed")),
    httpx.ConnectError("peer down"),
    ServiceUnavailable("Service unavailable: vehicles"),
    ConnectionRefusedError(),
    TimeoutError(),
])
def test_an_outage_never_uses_up_an_attempt(error: Exception) -> None:
    assert is_outage(error)
    verdicts = []
    attempts, outages = 2, 0
    for _ in range(50):
        verdict = judge(POLICY, error, attempts, outages)
        verdicts.append(verdict)
        outages = verdict.outages

    assert not any(v.dead_letter for v in verdicts)
    assert {v.attempts for v in verdicts} == {2}
    assert [v.delay for v in verdicts[:4]] == [1, 5, 10, 10]  # capped at outage_max_delay


@pytest.mark.parametrize("error", [KeyError("userId"), ValueError("bad"),
                                   sqlalchemy.exc.IntegrityError("INSERT", {}, Exception())])
def test_an_error_of_the_message_itself_is_not_an_outage(error: Exception) -> None:
    assert not is_outage(error)
    assert judge(POLICY, error, 0, 0).attempts == 1


def test_every_delay_has_a_delay_line_outages_included() -> None:
    policy = RetryPolicy(delays=(1, 5, 30), outage_max_delay=7)

    assert policy.retry_delays() == [1, 5, 7, 30]
    assert policy.dead_letter_queue("engagement.users") == "engagement.users.dlq"


def test_a_policy_without_delays_is_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(delays=())
    with pytest.raises(ValueError):
        RetryPolicy(delays=(0,))


def test_settings_read_the_retry_policy_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSUMER_RETRY_DELAYS", "0.5, 2,10")
    monkeypatch.setenv("CONSUMER_MAX_ATTEMPTS", "4")
    monkeypatch.setenv("CONSUMER_OUTAGE_MAX_DELAY", "3")
    monkeypatch.setenv("CONSUMER_DEAD_LETTER_SUFFIX", ".dead")

    policy = ServiceSettings().retry_policy

    assert policy == RetryPolicy(delays=(0.5, 2, 10), max_attempts=4, outage_max_delay=3,
                                 dead_letter_suffix=".dead")


def test_consumers_must_match_the_catalogue() -> None:
    check_consumers({"engagement.users": ["user.registered"]})
    with pytest.raises(ValueError, match="not in the event catalogue"):
        check_consumers({"engagement.new-queue": ["user.registered"]})
    with pytest.raises(ValueError, match="binds"):
        check_consumers({"engagement.users": ["user.registered", "user.deleted"]})


def test_every_catalogue_queue_binds_event_types() -> None:
    assert all(QUEUES.values())
    assert all(queue.count(".") == 1 for queue in QUEUES)


async def test_a_handler_runs_under_its_events_correlation_and_causes_what_it_stages(
        tmp_path) -> None:
    from sqlalchemy import MetaData
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    metadata = MetaData()
    tables = define_event_tables(metadata)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    outbox = Outbox(tables, "engagement")
    staged: list[Event] = []

    async def handle(event: Event) -> None:
        async with sessions() as session:
            staged.append(await outbox.add(session, ReferralCreditedV1(
                referral_id="r1", referrer_user_id="u1", referred_user_id="u2", reward=1)))
            await session.commit()

    cause = Event.new("membership.activated", "auth", {}, correlation_id="req-42")
    with handling(cause):
        await handle(cause)

    assert staged[0].correlation_id == "req-42"
    assert staged[0].causation_id == cause.id
    # Outside the handler the context is back to what it was.
    assert request_id_var.get() == "" and causation_var.get() == ""
    await engine.dispose()


async def test_an_event_staged_during_a_request_carries_its_request_id(tmp_path) -> None:
    from sqlalchemy import MetaData
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    metadata = MetaData()
    tables = define_event_tables(metadata)
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    token = request_id_var.set("gateway-request-7")
    try:
        async with async_sessionmaker(engine)() as session:
            event = await Outbox(tables, "auth").add(session, UserRegisteredV1(
                user_id="u1", email="u1@example.com", name="", referral_code="CODE0001",
                referred_by_code=None))
    finally:
        request_id_var.reset(token)

    assert event.correlation_id == "gateway-request-7" and event.causation_id is None
    await engine.dispose()


async def test_the_memory_bus_waits_before_a_retry_and_never_dead_letters_an_outage() -> None:
    bus = MemoryBus()
    calls = 0

    async def database_down_then_up(event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls <= 5:
            raise ConnectionRefusedError("database down")

    policy = RetryPolicy(delays=(0.01,), max_attempts=2)
    await bus.subscribe("q", ["t"], database_down_then_up, retry=policy)
    await bus.publish(Event.new("t", "p", {}))
    await get_hub().wait_idle()

    assert calls == 6
    assert get_hub().dead_letters("q") == []
    assert await bus.dead_letter_counts() == {"q": 0}
    await bus.close()


async def test_a_catalogue_queue_keeps_events_until_its_consumer_subscribes() -> None:
    producer = MemoryBus(declare={"engagement.users": ("user.registered",)})
    await producer.start()
    event = Event.new("user.registered", "auth", {})
    await producer.publish(event)
    await get_hub().wait_idle()  # nobody consumes it yet: not "outstanding"

    received: list[Event] = []

    async def handle(e: Event) -> None:
        received.append(e)

    consumer = MemoryBus()
    await consumer.subscribe("engagement.users", ["user.registered"], handle)
    await get_hub().wait_idle()

    assert received == [event]
    await consumer.close()


async def test_draining_lets_the_running_handler_finish_and_takes_no_more() -> None:
    import asyncio

    bus = MemoryBus()
    started, release = asyncio.Event(), asyncio.Event()
    handled: list[int] = []

    async def slow(event: Event) -> None:
        started.set()
        await release.wait()
        handled.append(event.data["n"])

    await bus.subscribe("q", ["t"], slow)
    for n in range(3):
        await bus.publish(Event.new("t", "p", {"n": n}))
    await started.wait()
    asyncio.get_running_loop().call_later(0.05, release.set)
    await bus.drain(5.0)

    assert handled == [0]
    await bus.close()
    assert get_hub().queues["q"].pending.qsize() == 2
