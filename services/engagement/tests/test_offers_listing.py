"""Which offers a member sees: tier, expiry, distance to the offer's locations, vehicle."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from engagement.geo import EARTH_RADIUS_KM, Point, distance_km
from engagement.offers import NEARBY_KM

ORIGIN = {"lat": "40.0", "lng": "-74.0"}
KM_PER_DEGREE_LAT = EARTH_RADIUS_KM * 3.141592653589793 / 180


def north_of_origin(km: float) -> float:
    """The latitude ``km`` due north of ORIGIN."""
    return 40.0 + km / KM_PER_DEGREE_LAT


async def test_a_basic_member_sees_basic_and_universal_offers(api):
    await api.create_offer(title="Everyone")
    await api.create_offer(title="Basic", eligibleMemberships=["basic", "plus"])
    await api.create_offer(title="Premium only", eligibleMemberships=["premium"])
    user_id = str(uuid.uuid4())
    await api.deliver(api.membership("activated", user_id, "basic"))
    assert await api.offer_titles(user_id) == ["Basic", "Everyone"]


async def test_no_membership_sees_only_universal_offers(api):
    await api.create_offer(title="Everyone")
    await api.create_offer(title="Elite", eligibleMemberships=["elite"])
    assert await api.offer_titles() == ["Everyone"]


async def test_token_tier_counts_until_the_projection_knows_the_user(api):
    await api.create_offer(title="Everyone")
    await api.create_offer(title="Premium", eligibleMemberships=["premium"])
    user_id = str(uuid.uuid4())
    # The membership.activated event has not arrived yet: the token's tier decides.
    assert await api.offer_titles(user_id, tier="premium") == ["Premium", "Everyone"]
    # Once it has, the projection decides (a cancelled membership is no tier, whatever an
    # older token still says).
    membership_id = str(uuid.uuid4())
    await api.deliver(api.membership("activated", user_id, "premium", membership_id),
                      api.membership("cancelled", user_id, "premium", membership_id))
    assert await api.offer_titles(user_id, tier="premium") == ["Everyone"]
    await api.deliver(api.membership("activated", user_id, "premium"))
    assert await api.offer_titles(user_id, tier=None) == ["Premium", "Everyone"]


async def test_an_older_membership_event_arriving_late_changes_nothing(api):
    await api.create_offer(title="Plus", eligibleMemberships=["plus"])
    user_id, first, second = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    t0 = datetime.now(UTC)
    await api.deliver(api.membership("activated", user_id, "plus", second,
                                     occurred_at=t0 + timedelta(seconds=2)),
                      api.membership("cancelled", user_id, "basic", first,
                                     occurred_at=t0 + timedelta(seconds=1)),
                      api.membership("activated", user_id, "basic", first, occurred_at=t0))
    assert await api.offer_titles(user_id) == ["Plus"]


async def test_expired_offers_are_never_listed(api):
    now = datetime.now(UTC)
    await api.create_offer(title="Expired", expiry=(now - timedelta(minutes=1)).isoformat())
    await api.create_offer(title="Open-ended")
    await api.create_offer(title="Until tomorrow", expiry=(now + timedelta(days=1)).isoformat())
    assert await api.offer_titles() == ["Until tomorrow", "Open-ended"]
    assert await api.offer_titles(**ORIGIN) == ["Until tomorrow", "Open-ended"]


async def test_near_offers_come_first_nearest_first_then_offers_without_locations(api):
    await api.deliver(api.location("near-10", north_of_origin(10), -74.0),
                      api.location("near-30", north_of_origin(30), -74.0),
                      api.location("far-100", north_of_origin(100), -74.0),
                      api.location("no-coordinates", None, None))
    await api.create_offer(title="Anywhere (older)")
    await api.create_offer(title="At 30 km", locations=["near-30"])
    await api.create_offer(title="At 10 km and 100 km", locations=["far-100", "near-10"])
    await api.create_offer(title="At 100 km", locations=["far-100"])
    await api.create_offer(title="Unknown place", locations=["never-heard-of"])
    await api.create_offer(title="Place without coordinates", locations=["no-coordinates"])
    await api.create_offer(title="Anywhere (newer)")
    assert await api.offer_titles(**ORIGIN) == [
        "At 10 km and 100 km", "At 30 km", "Anywhere (newer)", "Anywhere (older)"]
    # Without a point every visible offer is listed, newest first.
    assert len(await api.offer_titles()) == 7


async def test_the_50_km_rule_is_inclusive_and_sharp(api):
    assert NEARBY_KM == 50.0
    await api.deliver(api.location("inside", north_of_origin(49.9), -74.0),
                      api.location("outside", north_of_origin(50.1), -74.0))
    await api.create_offer(title="Inside", locations=["inside"])
    await api.create_offer(title="Outside", locations=["outside"])
    assert await api.offer_titles(**ORIGIN) == ["Inside"]


async def test_a_moved_location_moves_its_offers_but_an_older_event_does_not(api):
    t0 = datetime.now(UTC)
    await api.deliver(api.location("garage", north_of_origin(200), -74.0, occurred_at=t0))
    await api.create_offer(title="Garage", locations=["garage"])
    assert await api.offer_titles(**ORIGIN) == []
    await api.deliver(api.location("garage", north_of_origin(5), -74.0, "updated",
                                   occurred_at=t0 + timedelta(seconds=2)),
                      api.location("garage", north_of_origin(300), -74.0, "updated",
                                   occurred_at=t0 + timedelta(seconds=1)))
    assert await api.offer_titles(**ORIGIN) == ["Garage"]


@pytest.mark.parametrize(("params", "field"), [
    ({"lat": "abc", "lng": "1"}, "lat"), ({"lat": "1", "lng": "east"}, "lng"),
    ({"lat": "90.5", "lng": "0"}, "lat"), ({"lat": "0", "lng": "-180.01"}, "lng"),
    ({"lat": "nan", "lng": "0"}, "lat"), ({"lat": "0", "lng": "inf"}, "lng"),
    ({"lat": "10"}, "lng"), ({"lng": "10"}, "lat"), ({"lat": "", "lng": "10"}, "lat"),
])
async def test_bad_coordinates_are_400(api, params, field):
    response = await api.client.get("/api/offers/", params=params,
                                    headers=api.bearer(api.token(str(uuid.uuid4()))))
    assert response.status_code == 400 and field in response.json(), response.json()


async def test_empty_parameters_count_as_absent(api):
    await api.create_offer(title="Everyone")
    assert await api.offer_titles(vehicleId="", lat="", lng="") == ["Everyone"]


async def test_vehicle_id_must_be_the_callers_vehicle(api, peer):
    await api.create_offer(title="Everyone")
    owner, vehicle = str(uuid.uuid4()), str(uuid.uuid4())
    await api.deliver(api.event("vehicle.created", {
        "vehicleId": vehicle, "userId": owner, "vin": "1HGCM82633A004352", "dongleId": None},
        producer="vehicles"))
    assert await api.offer_titles(owner, vehicleId=vehicle) == ["Everyone"]
    for intruder_vehicle in (vehicle, str(uuid.uuid4())):
        response = await api.client.get("/api/offers/", params={"vehicleId": intruder_vehicle},
                                        headers=api.bearer(api.token(str(uuid.uuid4()))))
        assert (response.status_code, response.json()) == (404, {"error": "Vehicle not found"})
    assert len(peer.calls) == 1  # only the vehicle unknown to the projection was asked about


async def test_a_vehicle_the_projection_has_not_seen_is_checked_with_vehicles_once(api, peer):
    owner, vehicle = str(uuid.uuid4()), str(uuid.uuid4())
    peer.vehicle_owners[vehicle] = owner
    assert await api.offer_titles(owner, vehicleId=vehicle) == []
    peer.down = True
    assert await api.offer_titles(owner, vehicleId=vehicle) == []
    assert peer.calls == [f"/api/vehicles/{vehicle}/"]
    response = await api.client.get("/api/offers/", params={"vehicleId": str(uuid.uuid4())},
                                    headers=api.bearer(api.token(owner)))
    assert (response.status_code, response.json()) == (
        503, {"error": "Service unavailable: vehicles"})


def test_distance_matches_a_known_city_pair():
    paris, london = Point(48.8566, 2.3522), Point(51.5074, -0.1278)
    assert distance_km(paris, london) == pytest.approx(343.5, abs=1.0)
    assert distance_km(paris, paris) == 0.0
