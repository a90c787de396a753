"""Consumer-driven contract: the events engagement consumes, as it relies on them, must
parse with their producers' models (``shared.contracts``). A producer change that breaks
one of these payloads fails here, in the consumer's tests."""

from __future__ import annotations

from testsupport.contracts import Relied, broken_expectations, uncovered

RELIED_ON: list[Relied] = [
    # (type, producer, payload as sent, what the handler reads from it)
    ("user.registered", "auth",
     {"userId": "u1", "email": "a@example.com", "name": "Ann", "referralCode": "ANN00001",
      "referredByCode": "BOB00001"},
     {"user_id": "u1", "referral_code": "ANN00001", "referred_by_code": "BOB00001"}),
    ("user.registered", "auth",
     {"userId": "u2", "email": "b@example.com", "name": "", "referralCode": "BOB00001",
      "referredByCode": None},
     {"referred_by_code": None}),
    ("membership.activated", "auth", {"userId": "u1", "membershipId": "m1", "tier": "gold"},
     {"user_id": "u1", "membership_id": "m1", "tier": "gold"}),
    ("membership.cancelled", "auth", {"userId": "u1", "membershipId": "m1", "tier": "gold"},
     {"user_id": "u1", "membership_id": "m1", "tier": "gold"}),
    ("location.created", "appointments",
     {"locationId": "l1", "lat": 40.7, "lng": -74, "name": "Downtown"},
     {"location_id": "l1", "lat": 40.7, "lng": -74.0, "name": "Downtown"}),
    ("location.updated", "appointments",
     {"locationId": "l1", "lat": None, "lng": None, "name": "Moved"},
     {"lat": None, "lng": None}),
    *[(f"vehicle.{kind}", "vehicles",
       {"vehicleId": "v1", "userId": "u1", "vin": "1HGCM82633A004352", "dongleId": None},
       {"vehicle_id": "v1", "user_id": "u1"}) for kind in ("created", "updated", "deleted")],
]


def test_the_producers_models_accept_what_engagement_relies_on() -> None:
    assert broken_expectations(RELIED_ON) == []


def test_every_type_engagement_consumes_is_covered() -> None:
    assert uncovered("engagement", RELIED_ON) == set()
