"""Consumer-driven contract: the events vehicles consumes, as it relies on them, must
parse with their producers' models (``shared.contracts``). A producer change that breaks
one of these payloads fails here, in the consumer's tests."""

from __future__ import annotations

from testsupport.contracts import Relied, broken_expectations, uncovered

RELIED_ON: list[Relied] = [
    # (type, producer, payload as sent, what the handler reads from it)
    ("telematics.batch.ingested", "telematics",
     {"vehicleId": "v1", "batchId": "b1", "samples": 100, "maxOdometer": 15123.4,
      "endTimestamp": 1704067800000},
     {"vehicle_id": "v1", "max_odometer": 15123.4}),
    ("telematics.batch.ingested", "telematics",
     {"vehicleId": "v1", "batchId": "b2", "samples": 3, "maxOdometer": None,
      "endTimestamp": 1704067800000},
     {"max_odometer": None}),
]


def test_the_producers_models_accept_what_vehicles_relies_on() -> None:
    assert broken_expectations(RELIED_ON) == []


def test_every_type_vehicles_consumes_is_covered() -> None:
    assert uncovered("vehicles", RELIED_ON) == set()
