"""Ordinary faults, met as an operator meets them, on the real topology: nothing accepted is
lost. Every test that stops something restores it, whatever happens.

- a consumer's own database refuses connections for 15 s;
- RabbitMQ is stopped for 20 s in the middle of a referral;
- a service receives SIGTERM while it is under load;
- a message keeps failing (a poison message): it reaches the DLQ after its retries and is
  replayed with the documented command once the cause is fixed.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import psycopg
import pytest

from shared.events import EXCHANGE, Event
from shared.events.dlq import list_dead_letters
from testsupport.apps import wait_until

from .conftest import TEST_ENV

OUTAGE_SECONDS = 15
BROKER_OUTAGE_SECONDS = 20


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _database_of(topology: Any, service: str) -> str:
    return str(topology.processes[service][0].env["DATABASE_URL"])


def _referrals(gateway: httpx.Client, headers: dict[str, str]) -> list[tuple[str, str, Any]]:
    body = gateway.get("/api/referrals/me/", headers=headers).json()
    return [(r["referredUser"], r["status"], r["rewardsApplied"]) for r in body["referrals"]]


def _rewards(gateway: httpx.Client, headers: dict[str, str]) -> int:
    return int(gateway.get("/api/auth/me/", headers=headers).json()["rewardsBalance"])


def _activate(gateway: httpx.Client, headers: dict[str, str]) -> None:
    plans = gateway.get("/api/memberships/plans/").json()
    plan_id = next(plan["id"] for plan in plans if plan["tier"] == "plus")
    response = gateway.post("/api/memberships/", json={"planId": plan_id}, headers=headers)
    assert response.status_code == 201, response.text


async def _dead_lettered(amqp_url: str) -> dict[str, int]:
    return {entry.queue: entry.count for entry in await list_dead_letters(amqp_url, samples=0)
            if entry.count}


@pytest.mark.processes_only
async def test_a_consumers_database_outage_delays_the_referral_and_loses_nothing(
        gateway, users, bearer, topology, postgres_admin_url):
    referrer = users.register()
    headers = bearer(referrer["accessToken"])
    database = _database_of(topology, "engagement").rsplit("/", 1)[1]
    with psycopg.connect(_libpq(postgres_admin_url), autocommit=True) as admin:
        try:
            admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s", (database,))
            cut = time.monotonic()
            # Auth's writes do not need engagement: both are accepted during the outage.
            referred = users.register(referralCode=referrer["user"]["referralCode"])
            _activate(gateway, bearer(referred["accessToken"]))
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut)))
        finally:
            admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
    restored = time.monotonic()

    await wait_until(lambda: _rewards(gateway, headers) == 1, within=90, interval=0.25)
    print(f"\nreferral credited {time.monotonic() - restored:.1f} s after the database came "
          f"back ({OUTAGE_SECONDS} s outage)")
    assert _referrals(gateway, headers) == [
        (referred["user"]["id"], "credited", {"rewardsBalance": 1})]
    await asyncio.sleep(2.0)  # a duplicate credit would show up by now
    assert _rewards(gateway, headers) == 1
    assert await _dead_lettered(topology.amqp_url) == {}


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


@pytest.mark.processes_only
@pytest.mark.broker_restart
async def test_a_broker_outage_mid_referral_delays_the_credit_and_loses_nothing(
        gateway, users, bearer, topology):
    referrer = users.register()
    headers = bearer(referrer["accessToken"])
    code = referrer["user"]["referralCode"]
    referred = users.register(referralCode=code)
    await wait_until(lambda: [r[1] for r in _referrals(gateway, headers)] == ["signed_up"],
                     within=30)
    try:
        _rabbitmqctl("stop_app")
        stopped = time.monotonic()
        # Writes are accepted while the broker is down: their events wait in the outbox.
        _activate(gateway, bearer(referred["accessToken"]))
        latecomer = users.register(referralCode=code)
        await asyncio.sleep(max(0.0, BROKER_OUTAGE_SECONDS - (time.monotonic() - stopped)))
    finally:
        _rabbitmqctl("start_app")
        _rabbitmqctl("await_startup")
    restarted = time.monotonic()

    await wait_until(lambda: _rewards(gateway, headers) == 1, within=120, interval=0.5)
    print(f"\nreferral credited {time.monotonic() - restarted:.1f} s after the broker came "
          f"back ({BROKER_OUTAGE_SECONDS} s outage)")
    await wait_until(lambda: sorted(_referrals(gateway, headers)) == sorted([
        (referred["user"]["id"], "credited", {"rewardsBalance": 1}),
        (latecomer["user"]["id"], "signed_up", {})]), within=60)
    await asyncio.sleep(2.0)
    assert _rewards(gateway, headers) == 1
    assert await _dead_lettered(topology.amqp_url) == {}


class RegistrationLoad:
    """Clients registering users through the gateway until stopped; every answer kept."""

    def __init__(self, url: str, clients: int = 4) -> None:
        self.url = url
        self.statuses: Counter[str] = Counter()
        self.registered: list[str] = []  # e-mails answered 201
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(clients)]

    def __enter__(self) -> RegistrationLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self, client_number: int) -> None:
        n = 0
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set():
                n += 1
                email = f"sigterm-{client_number}-{n}-{time.monotonic_ns()}@example.com"
                try:
                    response = client.post("/api/auth/register/", json={
                        "email": email, "password": "password123", "name": "Load"})
                    outcome = str(response.status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                self.statuses[outcome] += 1
                if outcome == "201":
                    self.registered.append(email)
                else:
                    time.sleep(0.2)  # a polite client backs off (and stays under the limit)


def _query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(_libpq(url)) as connection:
        return connection.execute(sql, params).fetchall()


@pytest.mark.processes_only
async def test_sigterm_under_load_loses_no_request_and_no_event(topology):
    """Auth is stopped with SIGTERM while clients register, then started again. Every
    request either succeeded with its effects or was refused up front with a 503; every
    committed user.registered reaches engagement."""
    auth = topology.processes["auth"][0]
    assert auth.popen is not None
    with RegistrationLoad(topology.url) as load:
        await wait_until(lambda: load.statuses["201"] >= 20, within=60)
        signalled = time.monotonic()
        auth.popen.send_signal(signal.SIGTERM)
        await asyncio.to_thread(auth.popen.wait, 60)
        exit_seconds = time.monotonic() - signalled
        exit_code = auth.popen.returncode
        await wait_until(lambda: load.statuses["503"] > 0, within=30)
        auth.start()
        await asyncio.to_thread(topology.wait_ready, auth, lambda _: None)
        accepted_before = load.statuses["201"]
        await wait_until(lambda: load.statuses["201"] >= accepted_before + 20, within=60)

    lost = {outcome: count for outcome, count in load.statuses.items()
            if outcome not in ("201", "503")}
    print(f"\nSIGTERM under load: exited in {exit_seconds:.2f} s (code {exit_code}); "
          f"answers {dict(load.statuses)}")
    # uvicorn re-raises the signal once it has shut down, so the caller sees SIGTERM; the
    # log shows that the shutdown ran (requests drained, consumers stopped, outbox flushed).
    assert exit_code in (0, -signal.SIGTERM)
    assert '"event": "service_stopped"' in (topology.log_dir / "auth-1.log").read_text()
    assert lost == {}

    auth_db, engagement_db = _database_of(topology, "auth"), _database_of(topology, "engagement")
    stored = {row[0] for row in _query(auth_db, "SELECT email FROM users WHERE email = ANY(%s)",
                                       load.registered)}
    assert stored == set(load.registered)  # every 201 was committed
    staged = _query(auth_db, "SELECT id, published_at FROM outbox_events "
                             "WHERE type = 'user.registered' AND payload LIKE '%%sigterm-%%'")
    assert len(staged) == len(load.registered)  # one event per committed registration

    def delivered() -> bool:
        processed = {row[0] for row in _query(
            engagement_db, "SELECT event_id FROM processed_events WHERE consumer = %s "
                           "AND event_id = ANY(%s)", "engagement.users", [r[0] for r in staged])}
        return len(processed) == len(staged)

    await wait_until(delivered, within=60, interval=0.5)


async def _publish(amqp_url: str, event: Event) -> None:
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        await exchange.publish(aio_pika.Message(
            event.to_json(), message_id=event.id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=event.type)


@pytest.mark.processes_only
async def test_a_poison_message_is_dead_lettered_after_its_retries_then_replayed(
        gateway, users, bearer, topology):
    """A defect in auth's database (a trigger that rejects the update, standing in for a
    bad deployment) makes every delivery of one referral.credited fail. It is retried
    along the ladder, then dead-lettered; once the trigger is gone, the DLQ command
    replays it and the referrer is credited once."""
    referrer = users.register()
    headers = bearer(referrer["accessToken"])
    queue = "auth.referral-credited"
    auth_db = _database_of(topology, "auth")
    with psycopg.connect(_libpq(auth_db), autocommit=True) as db:
        try:
            db.execute("CREATE FUNCTION reject_rewards() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RAISE EXCEPTION 'rewards are frozen'; END $$")
            db.execute("CREATE TRIGGER reject_rewards BEFORE UPDATE OF rewards_balance ON "
                       "users FOR EACH ROW EXECUTE FUNCTION reject_rewards()")
            event = Event.new("referral.credited", "engagement", {
                "referralId": str(uuid.uuid4()), "referrerUserId": referrer["user"]["id"],
                "referredUserId": str(uuid.uuid4()), "reward": 1})
            published = time.monotonic()
            await _publish(topology.amqp_url, event)

            async def dead_lettered() -> bool:
                return (await _dead_lettered(topology.amqp_url)).get(queue) == 1

            await wait_until(dead_lettered, within=60, interval=0.1)
            backoff = time.monotonic() - published
            listed = await list_dead_letters(topology.amqp_url, queues=[queue])
            sample = listed[0].samples[0]
            assert sample["messageId"] == event.id
            assert sample["attempts"] == int(TEST_ENV["CONSUMER_MAX_ATTEMPTS"])
            assert _rewards(gateway, headers) == 0
        finally:
            db.execute("DROP TRIGGER IF EXISTS reject_rewards ON users")
            db.execute("DROP FUNCTION IF EXISTS reject_rewards()")
    print(f"\npoison message dead-lettered {backoff:.1f} s after it was published "
          f"(ladder {TEST_ENV['CONSUMER_RETRY_DELAYS']} s, "
          f"{TEST_ENV['CONSUMER_MAX_ATTEMPTS']} attempts)")

    replayed = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "shared.events.dlq", "--amqp-url",
                         topology.amqp_url, "replay", queue, "--id", event.id],
        check=True, capture_output=True, text=True)
    assert f"replayed 1 message(s) from {queue}.dlq" in replayed.stdout

    await wait_until(lambda: _rewards(gateway, headers) == 1, within=30)
    await asyncio.sleep(1.0)
    assert _rewards(gateway, headers) == 1
    assert await _dead_lettered(topology.amqp_url) == {}
