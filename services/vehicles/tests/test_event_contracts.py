"""Consumer-driven contract: the events vehicles consumes, as it relies on them, must
parse with their producers' models (``shared.contracts``). A producer change that breaks
one of these payloads fails here, in the consumer's tests."""

from __future__ import annotations

from typing import Any

import pytest

from shared.contracts import CONTRACTS
from shared.events import Event
from shared.events.catalog import QUEUES

RELIED_ON: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
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


@pytest.mark.parametrize(("type_", "producer", "data", "reads"), RELIED_ON,
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(RELIED_ON)])
def test_the_producers_model_accepts_what_vehicles_relies_on(
        type_: str, producer: str, data: dict[str, Any], reads: dict[str, Any]) -> None:
    parsed = CONTRACTS.parse(Event.new(type_, producer, data))
    assert {field: getattr(parsed, field) for field in reads} == reads


def test_every_type_vehicles_consumes_is_covered() -> None:
    consumed = {t for queue, types in QUEUES.items() if queue.startswith("vehicles.")
                for t in types}
    assert consumed == {r[0] for r in RELIED_ON}
