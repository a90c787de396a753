"""The referral.credited consumer, and the health endpoints every service has."""

import uuid

from shared.events import Event, MemoryBus, get_hub
from testsupport.apps import wait_until


async def rewards(client, token, bearer):
    return (await client.get("/api/auth/me/", headers=bearer(token))).json()["rewardsBalance"]


async def test_referral_credited_delivered_twice_counts_once(client, api, bearer):
    referrer = await api.register()
    event = Event.new("referral.credited", "engagement", {
        "referralId": str(uuid.uuid4()), "referrerUserId": referrer["user"]["id"],
        "referredUserId": str(uuid.uuid4()), "reward": 1})
    hub = get_hub()
    hub.route(event)
    hub.route(event)
    hub.route(Event.new("referral.credited", "engagement", event.data))  # same referral
    await hub.wait_idle()
    assert await rewards(client, referrer["accessToken"], bearer) == 1


async def test_registration_publishes_user_registered_with_the_referrer_code(client, api):
    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    listener = MemoryBus()
    await listener.subscribe(f"test.{uuid.uuid4().hex}", ["user.registered"], record)
    referrer = await api.register()
    referred = await api.register(referralCode=referrer["user"]["referralCode"])
    await wait_until(lambda: any(e.data["userId"] == referred["user"]["id"] for e in seen))
    await listener.close()
    event = next(e for e in seen if e.data["userId"] == referred["user"]["id"])
    assert event.producer == "auth" and event.version == 1
    assert event.data["referredByCode"] == referrer["user"]["referralCode"]
    assert event.data["referralCode"] == referred["user"]["referralCode"]


async def test_health_readiness_and_metrics(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    await client.get("/api/memberships/plans/")
    metrics = (await client.get("/metrics")).text
    assert 'route="/api/memberships/plans/"' in metrics


async def test_openapi_documents_400_not_422(client):
    schema = (await client.get("/openapi.json")).json()
    register = schema["paths"]["/api/auth/register/"]["post"]["responses"]
    assert "422" not in register and "400" in register
