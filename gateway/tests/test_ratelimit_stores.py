"""The two limit stores, one semantics: each behaviour runs on memory and on a real Redis."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from gateway.ratelimit import LimitStore, LimitStoreUnavailable, MemoryLimitStore, Window
from gateway.ratelimit_redis import RedisLimitStore
from shared.net import free_port
from testsupport.apps import wait_until

FIVE_PER_HOUR = Window("test", 5, 3600)


def redis_store(url: str, prefix: str) -> RedisLimitStore:
    return RedisLimitStore(url, prefix=prefix, timeout=1.0, max_connections=8)


@pytest.fixture(params=["memory", "redis"])
async def new_store(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], LimitStore]]:
    """Builds stores of one backend that share their state (as replicas do)."""
    stores: list[LimitStore] = []
    if request.param == "memory":
        shared = MemoryLimitStore()

        def build() -> LimitStore:
            return shared
    else:
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")

        def build() -> LimitStore:
            store = redis_store(url, prefix)
            stores.append(store)
            return store
    yield build
    for store in stores:
        await store.aclose()


async def test_reserves_up_to_the_limit_then_refuses_with_retry_after(new_store: Any) -> None:
    store = new_store()
    granted = [await store.reserve([(FIVE_PER_HOUR, "a")]) for _ in range(5)]
    assert all(r.retry_after == 0 and r.keys for r in granted)
    refused = await store.reserve([(FIVE_PER_HOUR, "a")])
    assert refused.keys == ()
    assert 3590 <= refused.retry_after <= 3600


async def test_keys_are_limited_separately(new_store: Any) -> None:
    store = new_store()
    for _ in range(5):
        await store.reserve([(FIVE_PER_HOUR, "a")])
    assert (await store.reserve([(FIVE_PER_HOUR, "b")])).retry_after == 0


async def test_a_released_slot_can_be_taken_again(new_store: Any) -> None:
    store = new_store()
    reservations = [await store.reserve([(FIVE_PER_HOUR, "a")]) for _ in range(5)]
    await reservations[2].release()
    assert (await store.reserve([(FIVE_PER_HOUR, "a")])).retry_after == 0
    assert (await store.reserve([(FIVE_PER_HOUR, "a")])).retry_after > 0


async def test_a_refused_reservation_takes_no_slot_in_its_other_windows(new_store: Any) -> None:
    store = new_store()
    per_ip = Window("ip", 3, 3600)
    for _ in range(5):
        await store.reserve([(FIVE_PER_HOUR, "full")])
    refused = await store.reserve([(per_ip, "ip-1"), (FIVE_PER_HOUR, "full")])
    assert refused.retry_after > 0
    granted = [await store.reserve([(per_ip, "ip-1")]) for _ in range(3)]
    assert all(r.retry_after == 0 for r in granted)


async def test_a_reservation_in_two_windows_is_given_back_in_both(new_store: Any) -> None:
    store = new_store()
    one_per_hour = Window("one", 1, 3600)
    reservation = await store.reserve([(one_per_hour, "x"), (FIVE_PER_HOUR, "y")])
    assert reservation.retry_after == 0
    await reservation.release()
    assert (await store.reserve([(one_per_hour, "x"), (FIVE_PER_HOUR, "y")])).retry_after == 0


async def test_concurrent_reservations_take_at_most_the_limit(new_store: Any) -> None:
    stores = [new_store(), new_store()]
    results = await asyncio.gather(*(stores[i % 2].reserve([(FIVE_PER_HOUR, "hot")])
                                     for i in range(40)))
    assert sum(1 for r in results if r.retry_after == 0) == 5


async def test_slots_age_out_after_the_window(new_store: Any) -> None:
    store = new_store()
    short = Window("short", 2, 1.0)
    for _ in range(2):
        assert (await store.reserve([(short, "k")])).retry_after == 0
    assert (await store.reserve([(short, "k")])).retry_after == 1

    async def free() -> bool:
        return (await store.reserve([(short, "k")])).retry_after == 0

    await wait_until(free, within=15, interval=0.1)


async def test_memory_store_forgets_keys_whose_slots_aged_out() -> None:
    now = [0.0]
    store = MemoryLimitStore(clock=lambda: now[0], sweep_every=3)
    await store.reserve([(FIVE_PER_HOUR, "old-1")])
    await store.reserve([(FIVE_PER_HOUR, "old-2")])
    now[0] = 3601.0
    await store.reserve([(FIVE_PER_HOUR, "new")])
    assert len(store) == 1


async def test_redis_keys_expire_one_window_after_their_last_slot(redis_url: str,
                                                                  redis_prefix: str) -> None:
    store = redis_store(redis_url, redis_prefix)
    try:
        reservation = await store.reserve([(Window("ttl", 3, 60), "k")])
    finally:
        await store.aclose()
    client = Redis.from_url(redis_url)
    try:
        ttl = await client.pttl(reservation.keys[0])
    finally:
        await client.aclose()
    assert 0 < ttl <= 60_000


async def test_unreachable_redis_is_unavailable_and_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    store = redis_store(f"redis://127.0.0.1:{free_port()}/0", "unreachable:")
    caplog.set_level(logging.INFO, logger="gateway.ratelimit")
    try:
        for _ in range(20):
            with pytest.raises(LimitStoreUnavailable):
                await store.reserve([(FIVE_PER_HOUR, "a")])
    finally:
        await store.aclose()
    assert store.available is False
    assert store.errors == 20
    events = [getattr(r, "event", None) for r in caplog.records]
    assert events == ["limit_store_down"]


async def test_redis_outage_and_recovery(private_redis: Any,
                                         caplog: pytest.LogCaptureFixture) -> None:
    store = redis_store(private_redis.url, "outage:")
    caplog.set_level(logging.INFO, logger="gateway.ratelimit")
    try:
        assert (await store.reserve([(FIVE_PER_HOUR, "a")])).retry_after == 0
        private_redis.stop()
        with pytest.raises(LimitStoreUnavailable):
            await store.reserve([(FIVE_PER_HOUR, "a")])
        assert store.available is False
        private_redis.start()  # empty: it kept nothing (no persistence)
        reservations = [await store.reserve([(FIVE_PER_HOUR, "a")]) for _ in range(5)]
        assert all(r.retry_after == 0 for r in reservations)
        assert store.available is True
    finally:
        await store.aclose()
    events = [getattr(r, "event", None) for r in caplog.records]
    assert events == ["limit_store_down", "limit_store_up"]


async def test_a_redis_that_does_not_answer_is_unavailable(private_redis: Any) -> None:
    store = RedisLimitStore(private_redis.url, prefix="hung:", timeout=0.3, max_connections=2)
    assert (await store.reserve([(FIVE_PER_HOUR, "a")])).retry_after == 0
    assert private_redis.process is not None
    private_redis.process.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(LimitStoreUnavailable):
            # The guard only matters if REDIS_TIMEOUT_SECONDS were not applied.
            await asyncio.wait_for(store.reserve([(FIVE_PER_HOUR, "a")]), 30)
        assert store.available is False
    finally:
        private_redis.process.send_signal(signal.SIGCONT)
        await store.aclose()


async def test_a_long_outage_is_logged_again_now_and_then(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import gateway.ratelimit_redis

    store = redis_store(f"redis://127.0.0.1:{free_port()}/0", "unreachable:")
    caplog.set_level(logging.INFO, logger="gateway.ratelimit")
    try:
        with pytest.raises(LimitStoreUnavailable):
            await store.reserve([(FIVE_PER_HOUR, "a")])
        monkeypatch.setattr(gateway.ratelimit_redis, "LOG_EVERY_SECONDS", 0.0)
        for _ in range(2):
            with pytest.raises(LimitStoreUnavailable):
                await store.reserve([(FIVE_PER_HOUR, "a")])
    finally:
        await store.aclose()
    records = [r for r in caplog.records if r.name == "gateway.ratelimit"]
    assert [getattr(r, "event", None) for r in records] == [
        "limit_store_down", "limit_store_still_down", "limit_store_still_down"]
    assert getattr(records[1], "errorsSinceLastLog", None) == 1
