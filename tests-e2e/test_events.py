"""Events crossing the real broker: exactly-once effects and outbox durability."""

import asyncio
import contextlib
import json
import subprocess
import uuid

import aio_pika
import httpx
import pytest

from shared.events import EXCHANGE, Event
from testsupport.apps import wait_until


async def _publish(amqp_url: str, event: Event, times: int = 1) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        for _ in range(times):
            await exchange.publish(
                aio_pika.Message(event.to_json(), message_id=event.id,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=event.type)


def _rewards(gateway, token: str) -> int:
    return int(gateway.get("/api/auth/me/", headers={"Authorization": f"Bearer {token}"}
                           ).json()["rewardsBalance"])


@pytest.mark.processes_only
async def test_referral_credited_twice_raises_rewards_once(gateway, users, topology):
    amqp_url = topology.amqp_url
    referrer = users.register()
    token = referrer["accessToken"]
    event = Event.new("referral.credited", "engagement", {
        "referralId": str(uuid.uuid4()), "referrerUserId": referrer["user"]["id"],
        "referredUserId": str(uuid.uuid4()), "reward": 1})
    await _publish(amqp_url, event, times=2)
    # The same referral credited again under a new event id changes nothing either.
    again = Event.new("referral.credited", "engagement", event.data)
    await _publish(amqp_url, again)
    await wait_until(lambda: _rewards(gateway, token) == 1, within=15)
    await asyncio.sleep(1.0)  # give a wrongly-applied duplicate the chance to show up
    assert _rewards(gateway, token) == 1


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


@pytest.mark.processes_only
@pytest.mark.broker_restart
async def test_event_committed_while_broker_is_down_is_delivered_later(gateway, users,
                                                                       topology):
    amqp_url = topology.amqp_url
    queue_name = f"e2e.outbox-{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.bind(exchange, "user.registered")
    email = users.unique_email()
    try:
        _rabbitmqctl("stop_app")
        users.register(email=email)  # committed with the broker down: waits in the outbox
    finally:
        _rabbitmqctl("start_app")
        _rabbitmqctl("await_startup")
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        seen: list[dict] = []

        async def drain() -> bool:
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                seen.append(json.loads(message.body))
            return any(e["data"]["email"] == email for e in seen)

        for _ in range(150):
            if await drain():
                break
            await asyncio.sleep(0.2)
        await queue.delete()
    assert any(e["type"] == "user.registered" and e["data"]["email"] == email for e in seen)


@pytest.mark.processes_only
async def test_a_consumer_deployed_after_its_producer_receives_what_was_published_before(
        postgres_admin_url, amqp_url, tmp_path):
    """On a fresh broker (a vhost of its own) only auth runs; B registers with A's code;
    engagement is deployed afterwards and still records B's referral. Every service
    declares every queue of the event catalogue when it connects, so user.registered
    waited in engagement's queue instead of being dropped for want of a queue."""
    from launcher.catalog import SERVICES
    from launcher.local import Process
    from shared.net import free_port
    from testsupport import infra
    from testsupport.topology import throwaway_topology

    from .conftest import TEST_ENV

    auth_only = tuple(spec for spec in SERVICES if spec.name == "auth")
    engagement = next(spec for spec in SERVICES if spec.name == "engagement")
    with throwaway_topology(postgres_admin_url, amqp_url, prefix="ma_late",
                            progress=lambda _: None, services=auth_only,
                            ports={"auth": [free_port()]}, gateway_port=free_port(),
                            log_dir=tmp_path, extra_env=TEST_ENV) as topology:
        with httpx.Client(base_url=topology.url, timeout=30) as gateway:
            def register(**fields: str) -> dict:
                body = {"email": f"late-{uuid.uuid4().hex[:10]}@example.com",
                        "password": "password123", "name": "Late", **fields}
                response = gateway.post("/api/auth/register/", json=body)
                assert response.status_code == 201, response.text
                return response.json()

            referrer = register()
            referred = register(referralCode=referrer["user"]["referralCode"])

        auth_url = topology.processes["auth"][0].url
        database = infra.with_database(postgres_admin_url,
                                       f"ma_late_{uuid.uuid4().hex[:8]}_engagement")
        log = (tmp_path / "engagement-late.log").open("ab")  # noqa: ASYNC230 - a local file
        late = Process("engagement-late", free_port(), {
            **TEST_ENV, "DATABASE_URL": database, "AMQP_URL": topology.amqp_url,
            "JWKS_URL": f"{auth_url}/api/auth/jwks/", "AUTH_URL": auth_url,
        }, engagement.factory, log)
        late.start()
        try:
            topology.wait_ready(late, lambda _: None)
            headers = {"Authorization": f"Bearer {referrer['accessToken']}"}

            def referrals() -> list[tuple[str, str]]:
                body = httpx.get(f"{late.url}/api/referrals/me/", headers=headers).json()
                return [(r["referredUser"], r["status"]) for r in body["referrals"]]

            await wait_until(lambda: referrals() == [(referred["user"]["id"], "signed_up")],
                             within=30)
        finally:
            late.stop()
            infra.drop_database(postgres_admin_url, database)


def _logged(topology, instance: str, needle: str) -> list[dict]:
    """The JSON log lines of ``instance`` (e.g. ``auth-1``) that mention ``needle``."""
    lines = []
    for line in (topology.log_dir / f"{instance}.log").read_text().splitlines():
        if needle in line:
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
    return lines


@pytest.mark.processes_only
async def test_one_request_id_follows_the_story_into_every_consumers_log(
        gateway, users, bearer, topology):
    """The X-Request-ID of a registration is the requestId of auth's lines and, through
    the event's correlationId, of the engagement consumer's; the activation's id reaches
    auth again through engagement's referral.credited, caused by membership.activated."""
    referrer = users.register()
    signup, activation = f"signup-{uuid.uuid4().hex}", f"activation-{uuid.uuid4().hex}"
    response = gateway.post("/api/auth/register/", headers={"X-Request-ID": signup}, json={
        "email": users.unique_email(), "password": "password123", "name": "Story",
        "referralCode": referrer["user"]["referralCode"]})
    assert response.status_code == 201 and response.headers["x-request-id"] == signup
    referred = response.json()

    def handled(instance: str, story: str, queue: str) -> list[dict]:
        return [line for line in _logged(topology, instance, story)
                if line.get("event") == "events.handled" and line.get("queue") == queue
                and line.get("requestId") == story]

    await wait_until(lambda: handled("engagement-1", signup, "engagement.users"), within=30)
    plans = gateway.get("/api/memberships/plans/").json()
    response = gateway.post("/api/memberships/", json={"planId": plans[0]["id"]}, headers={
        **bearer(referred["accessToken"]), "X-Request-ID": activation})
    assert response.status_code == 201

    await wait_until(lambda: handled("auth-1", activation, "auth.referral-credited"),
                     within=30)
    activated = handled("engagement-1", activation, "engagement.memberships")
    credited = handled("auth-1", activation, "auth.referral-credited")
    assert [line["eventType"] for line in activated] == ["membership.activated"]
    assert credited[0]["causationId"] == activated[0]["eventId"]
