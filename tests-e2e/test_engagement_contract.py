"""The Engagement part of CONTRACT.md (offers and referrals), through the gateway.

The platform is shared by the whole session, so every test makes its own offers (unique
titles) and looks only at those in a listing.
"""

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest

from launcher.catalog import SERVICES
from shared.events import EXCHANGE, Event
from testsupport.apps import wait_until

APPOINTMENTS_DEPLOYED = any(spec.name == "appointments" for spec in SERVICES)
KM_PER_DEGREE_LAT = 111.195


@pytest.fixture
def admin(users, bearer):
    return bearer(users.admin_token())


def create_offer(gateway, admin, **fields):
    body = {"title": f"Offer {uuid.uuid4().hex[:8]}", **fields}
    response = gateway.post("/api/offers/", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def listed(gateway, headers, mine, **params):
    """The ids of the offers in ``mine`` that the listing shows, in its order."""
    response = gateway.get("/api/offers/", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [offer["id"] for offer in response.json() if offer["id"] in mine]


def activate(gateway, headers, tier):
    plans = gateway.get("/api/memberships/plans/").json()
    plan_id = next(plan["id"] for plan in plans if plan["tier"] == tier)
    response = gateway.post("/api/memberships/", json={"planId": plan_id}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_offers_are_managed_by_admins_only(gateway, admin, member):
    offer = create_offer(gateway, admin, description="20% off", terms="Once",
                         expiry="2099-03-31T23:59:59Z", eligibleMemberships=["basic", "plus"],
                         locations=["location-1"])
    assert set(offer) == {"id", "title", "description", "terms", "expiry",
                          "eligibleMemberships", "locations", "createdAt"}
    assert offer["expiry"] == "2099-03-31T23:59:59Z" and offer["createdAt"].endswith("Z")
    path = f"/api/offers/{offer['id']}/"
    for response in [gateway.post("/api/offers/", json={"title": "x"},
                                  headers=member["headers"]),
                     gateway.patch(path, json={"title": "x"}, headers=member["headers"]),
                     gateway.delete(path, headers=member["headers"])]:
        assert response.status_code == 403 and "error" in response.json()
    assert gateway.get("/api/offers/").status_code == 401
    patched = gateway.patch(path, json={"title": "Renamed", "eligibleMemberships": []},
                            headers=admin)
    assert patched.status_code == 200
    assert patched.json() == {**offer, "title": "Renamed", "eligibleMemberships": []}
    assert gateway.delete(path, headers=admin).status_code == 204
    gone = gateway.patch(path, json={"title": "x"}, headers=admin)
    assert (gone.status_code, gone.json()) == (404, {"error": "Offer not found"})


def test_offer_validation_errors(gateway, admin):
    missing = gateway.post("/api/offers/", json={"description": "no title"}, headers=admin)
    assert (missing.status_code, missing.json()) == (400, {"title": ["This field is required."]})
    for field, value in [("eligibleMemberships", ["gold"]), ("expiry", "soon"),
                         ("locations", "not-a-list"), ("title", "")]:
        response = gateway.post("/api/offers/", json={"title": "T", field: value},
                                headers=admin)
        assert response.status_code == 400 and field in response.json(), (field, value)


async def test_a_basic_member_sees_basic_and_universal_offers_not_premium_only(
        gateway, admin, users, bearer):
    everyone = create_offer(gateway, admin)["id"]
    basic = create_offer(gateway, admin, eligibleMemberships=["basic"])["id"]
    premium = create_offer(gateway, admin, eligibleMemberships=["premium"])["id"]
    mine = {everyone, basic, premium}
    headers = bearer(users.register()["accessToken"])
    assert listed(gateway, headers, mine) == [everyone]  # no membership: universal only
    activate(gateway, headers, "basic")
    # The same (older) token: the membership.activated projection decides once it arrives.
    await wait_until(lambda: listed(gateway, headers, mine) == [basic, everyone], within=15)


def test_an_expired_offer_is_never_listed(gateway, admin, member):
    now = datetime.now(UTC)
    expired = create_offer(gateway, admin, expiry=(now - timedelta(seconds=1)).isoformat())
    current = create_offer(gateway, admin, expiry=(now + timedelta(days=1)).isoformat())
    mine = {expired["id"], current["id"]}
    assert listed(gateway, member["headers"], mine) == [current["id"]]
    assert listed(gateway, member["headers"], mine, lat="40.7", lng="-74.0") == [current["id"]]


def test_near_a_point_offers_with_unknown_locations_are_left_out(gateway, admin, member):
    anywhere = create_offer(gateway, admin)["id"]
    unknown_place = create_offer(gateway, admin, locations=[str(uuid.uuid4())])["id"]
    mine = {anywhere, unknown_place}
    assert listed(gateway, member["headers"], mine, lat="-33.9", lng="18.4") == [anywhere]
    assert set(listed(gateway, member["headers"], mine)) == mine


@pytest.mark.skipif(not APPOINTMENTS_DEPLOYED,
                    reason="locations come from the appointments service, not deployed yet")
async def test_offers_near_a_point_nearest_first_then_offers_without_locations(
        gateway, admin, member):
    lat, lng = random.uniform(-50, 50), random.uniform(-170, 170)

    def location(km_north):
        response = gateway.post("/api/appointments/locations/", headers=admin, json={
            "name": f"Garage {km_north} km", "lat": lat + km_north / KM_PER_DEGREE_LAT,
            "lng": lng})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    at_5, at_20, at_120 = location(5), location(20), location(120)
    anywhere = create_offer(gateway, admin)["id"]
    near_20 = create_offer(gateway, admin, locations=[at_20])["id"]
    near_5 = create_offer(gateway, admin, locations=[at_120, at_5])["id"]
    far = create_offer(gateway, admin, locations=[at_120])["id"]
    mine = {anywhere, near_20, near_5, far}
    await wait_until(lambda: listed(gateway, member["headers"], mine, lat=str(lat),
                                    lng=str(lng)) == [near_5, near_20, anywhere], within=15)


def test_bad_coordinates_are_400(gateway, member):
    for params in ({"lat": "north", "lng": "1"}, {"lat": "91", "lng": "0"},
                   {"lat": "0", "lng": "181"}, {"lat": "10"}, {"lng": "10"}):
        response = gateway.get("/api/offers/", params=params, headers=member["headers"])
        assert response.status_code == 400 and response.json(), params


def test_vehicle_id_must_be_the_callers_vehicle(gateway, garage, users, bearer, member):
    vehicle = garage.create(member["headers"])
    own = gateway.get("/api/offers/", params={"vehicleId": vehicle["id"]},
                      headers=member["headers"])
    assert own.status_code == 200
    intruder = bearer(users.register()["accessToken"])
    for vehicle_id in (vehicle["id"], str(uuid.uuid4())):
        response = gateway.get("/api/offers/", params={"vehicleId": vehicle_id},
                               headers=intruder)
        assert (response.status_code, response.json()) == (404, {"error": "Vehicle not found"})


def test_a_new_user_sees_their_code_and_link_at_once(gateway, users, bearer):
    body = users.register()
    response = gateway.get("/api/referrals/me/", headers=bearer(body["accessToken"]))
    assert response.status_code == 200
    code = body["user"]["referralCode"]
    assert response.json() == {"code": code, "link": f"https://membershipauto.com/r/{code}",
                               "referrals": []}


async def test_applying_a_code(gateway, users, bearer):
    owner = users.register()
    code, owner_headers = owner["user"]["referralCode"], bearer(owner["accessToken"])
    newcomer = users.register()
    newcomer_id, newcomer_headers = newcomer["user"]["id"], bearer(newcomer["accessToken"])

    def apply(headers, **body):
        return gateway.post("/api/referrals/apply/", json=body, headers=headers)

    await wait_until(lambda: apply(newcomer_headers, code=code).status_code == 200, within=15)
    assert apply(newcomer_headers, code=code).json() == {"message": "Referral code is valid",
                                                          "code": code}
    invalid = apply(newcomer_headers, code="REF-NOPE00")
    assert (invalid.status_code, invalid.json()) == (400, {"error": "Invalid referral code"})
    missing = apply(newcomer_headers, newUserId=newcomer_id)
    assert (missing.status_code, missing.json()) == (400, {"code": ["This field is required."]})
    outsider = bearer(users.register()["accessToken"])
    assert apply(outsider, code=code, newUserId=newcomer_id).status_code == 403
    own = apply(owner_headers, code=code, newUserId=owner["user"]["id"])
    assert own.status_code == 400 and "error" in own.json()
    applied = apply(newcomer_headers, code=code, newUserId=newcomer_id)
    assert applied.status_code == 200
    referral = applied.json()
    assert (referral["referrerUser"], referral["referredUser"], referral["code"],
            referral["status"], referral["rewardsApplied"]) == (
        owner["user"]["id"], newcomer_id, code, "signed_up", {})
    assert apply(newcomer_headers, code=code, newUserId=newcomer_id).json() == referral
    other_code = users.register()["user"]["referralCode"]
    await wait_until(lambda: apply(newcomer_headers, code=other_code).status_code == 200,
                     within=15)
    assert apply(newcomer_headers, code=other_code, newUserId=newcomer_id).status_code == 409
    mine = gateway.get("/api/referrals/me/", headers=owner_headers).json()["referrals"]
    assert mine == [referral]


def apply_code(gateway, headers, **body):
    return gateway.post("/api/referrals/apply/", json=body, headers=headers)


async def test_a_codes_owner_may_attach_a_newcomer_but_not_a_member(gateway, admin, users,
                                                                     bearer):
    owner = users.register()
    code, owner_headers = owner["user"]["referralCode"], bearer(owner["accessToken"])
    member = users.register()
    member_headers = bearer(member["accessToken"])
    activate(gateway, member_headers, "basic")
    basic_only = create_offer(gateway, admin, eligibleMemberships=["basic"])["id"]
    # Engagement has seen the activation once the member's (older) token sees basic offers.
    await wait_until(lambda: listed(gateway, member_headers, {basic_only}) == [basic_only],
                     within=15)
    await wait_until(lambda: apply_code(gateway, owner_headers, code=code).status_code == 200,
                     within=15)
    newcomer_id = users.register()["user"]["id"]
    # Straight after the registration: the owner's request waits for its event.
    attached = apply_code(gateway, owner_headers, code=code, newUserId=newcomer_id)
    assert attached.status_code == 200, attached.text
    assert (attached.json()["referrerUser"], attached.json()["referredUser"],
            attached.json()["status"], attached.json()["rewardsApplied"]) == (
        owner["user"]["id"], newcomer_id, "signed_up", {})
    refused = apply_code(gateway, owner_headers, code=code, newUserId=member["user"]["id"])
    assert refused.status_code == 403 and "24 hours" in refused.json()["error"]
    unknown = apply_code(gateway, owner_headers, code=code, newUserId=str(uuid.uuid4()))
    assert unknown.status_code == 403 and "error" in unknown.json()
    # The member may still apply the code for themselves (credited at once: they activated).
    own = apply_code(gateway, member_headers, code=code, newUserId=member["user"]["id"])
    assert own.status_code == 200
    assert (own.json()["status"], own.json()["rewardsApplied"]) == (
        "credited", {"rewardsBalance": 1})


@pytest.mark.processes_only
async def test_a_codes_owner_may_not_attach_a_user_registered_over_a_day_ago(
        gateway, users, bearer, topology):
    owner = users.register()
    code, owner_headers = owner["user"]["referralCode"], bearer(owner["accessToken"])
    veteran_id, veteran_code = str(uuid.uuid4()), f"REF-{uuid.uuid4().hex[:6].upper()}"
    registered = Event.new("user.registered", "auth", {
        "userId": veteran_id, "email": f"{veteran_id}@example.com", "name": "Veteran",
        "referralCode": veteran_code, "referredByCode": None}).model_copy(
        update={"occurred_at": datetime.now(UTC) - timedelta(hours=25)})
    connection = await aio_pika.connect_robust(topology.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        await exchange.publish(aio_pika.Message(registered.to_json(), message_id=registered.id),
                               routing_key=registered.type)
    await wait_until(lambda: apply_code(gateway, owner_headers,
                                        code=veteran_code).status_code == 200, within=15)
    refused = apply_code(gateway, owner_headers, code=code, newUserId=veteran_id)
    assert refused.status_code == 403 and "24 hours" in refused.json()["error"]


def _referrals(gateway, headers):
    return gateway.get("/api/referrals/me/", headers=headers).json()["referrals"]


def _rewards(gateway, headers):
    return gateway.get("/api/auth/me/", headers=headers).json()["rewardsBalance"]


async def _referral_story(gateway, users, bearer):
    """A registers; B registers with A's code; A sees B signed up; B activates; A is
    credited one month. Returns (A's headers, B's user id)."""
    referrer = users.register()
    headers = bearer(referrer["accessToken"])
    referred = users.register(referralCode=referrer["user"]["referralCode"])
    referred_id = referred["user"]["id"]
    await wait_until(lambda: [(r["referredUser"], r["status"]) for r in
                              _referrals(gateway, headers)] == [(referred_id, "signed_up")],
                     within=15)
    assert _rewards(gateway, headers) == 0
    activate(gateway, bearer(referred["accessToken"]), "plus")
    await wait_until(lambda: [(r["status"], r["rewardsApplied"]) for r in
                              _referrals(gateway, headers)] == [
                                  ("credited", {"rewardsBalance": 1})], within=15)
    await wait_until(lambda: _rewards(gateway, headers) == 1, within=15)
    return headers, referred_id


async def test_referral_story_credits_the_referrer_one_month(gateway, users, bearer):
    await _referral_story(gateway, users, bearer)


@pytest.mark.processes_only
async def test_referral_events_delivered_again_credit_once(gateway, users, bearer, topology):
    connection = await aio_pika.connect_robust(topology.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        tap = await channel.declare_queue(exclusive=True, auto_delete=True)
        for key in ("user.registered", "membership.activated", "referral.credited"):
            await tap.bind(exchange, key)
        headers, referred_id = await _referral_story(gateway, users, bearer)

        seen: list[Event] = []

        async def drain_until(predicate):
            for _ in range(100):
                while (message := await tap.get(no_ack=True, fail=False)) is not None:
                    seen.append(Event.from_json(message.body))
                if predicate():
                    return
                await asyncio.sleep(0.1)
            raise AssertionError(f"events not seen: {[e.type for e in seen]}")

        def about_referred(kind):
            return [e for e in seen if e.type == kind and referred_id in (
                e.data.get("userId"), e.data.get("referredUserId"))]

        await drain_until(lambda: about_referred("user.registered")
                          and about_referred("membership.activated")
                          and about_referred("referral.credited"))
        originals = about_referred("user.registered") + about_referred("membership.activated")
        # The same envelopes again (the broker redelivering), and the same facts under new
        # event ids (a producer that published twice), activation first this time.
        copies = [Event.new(e.type, e.producer, e.data) for e in reversed(originals)]
        for event in [*originals, *originals, *copies]:
            await exchange.publish(
                aio_pika.Message(event.to_json(), message_id=event.id,
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=event.type)
        await asyncio.sleep(2.0)  # give a wrongly applied duplicate the chance to show up
        await drain_until(lambda: True)
        assert len(about_referred("referral.credited")) == 1
        assert _rewards(gateway, headers) == 1
        assert [r["status"] for r in _referrals(gateway, headers)] == ["credited"]
