"""Consumer-driven contract: the events appointments consumes, as it relies on them, must
parse with their producers' models (``shared.contracts``). A producer change that breaks
one of these payloads fails here, in the consumer's tests."""

from __future__ import annotations

from testsupport.contracts import Relied, broken_expectations, uncovered

RELIED_ON: list[Relied] = [
    # (type, producer, payload as sent, what the handler reads from it)
    *[(f"vehicle.{kind}", "vehicles",
       {"vehicleId": "v1", "userId": "u1", "vin": "1HGCM82633A004352", "dongleId": "d1"},
       {"vehicle_id": "v1", "user_id": "u1"}) for kind in ("created", "updated", "deleted")],
]


def test_the_producers_models_accept_what_appointments_relies_on() -> None:
    assert broken_expectations(RELIED_ON) == []


def test_every_type_appointments_consumes_is_covered() -> None:
    assert uncovered("appointments", RELIED_ON) == set()
