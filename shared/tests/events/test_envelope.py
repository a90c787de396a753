import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.events import Event


def test_envelope_has_the_contract_keys() -> None:
    event = Event.new("user.registered", "auth", {"userId": "u1"})

    body = json.loads(event.to_json())

    assert list(body) == ["id", "type", "version", "occurredAt", "producer", "data",
                          "correlationId", "causationId"]
    assert body["correlationId"] is None and body["causationId"] is None
    assert body["type"] == "user.registered"
    assert body["version"] == 1
    assert body["producer"] == "auth"
    assert body["data"] == {"userId": "u1"}


def test_an_envelope_without_correlation_keys_still_parses() -> None:
    # Producers not yet upgraded (or messages already queued) send the six keys only.
    raw = {"id": "e1", "type": "user.registered", "version": 1,
           "occurredAt": "2026-01-01T00:00:00Z", "producer": "auth", "data": {}}

    event = Event.from_json(json.dumps(raw))

    assert event.correlation_id is None and event.causation_id is None


def test_occurred_at_is_utc_iso_ending_in_z() -> None:
    event = Event.new("user.registered", "auth", {})

    occurred_at = json.loads(event.to_json())["occurredAt"]

    assert occurred_at.endswith("Z")
    assert datetime.fromisoformat(occurred_at).tzinfo is not None


def test_round_trip_gives_an_equal_event() -> None:
    event = Event.new("vehicle.created", "vehicles", {"vehicleId": "v1", "vin": "X"})

    assert Event.from_json(event.to_json()) == event


def test_each_new_event_gets_its_own_uuid() -> None:
    first, second = (Event.new("a.b", "p", {}) for _ in range(2))

    assert first.id != second.id
    assert len(first.id) == 36


def test_from_json_accepts_other_producers_offsets_as_utc() -> None:
    raw = (
        '{"id":"00000000-0000-0000-0000-000000000001","type":"a.b","version":1,'
        '"occurredAt":"2025-01-01T02:00:00+02:00","producer":"p","data":{}}'
    )

    event = Event.from_json(raw.encode())

    assert event.occurred_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert json.loads(event.to_json())["occurredAt"] == "2025-01-01T00:00:00.000000Z"


def test_malformed_json_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Event.from_json(b'{"type": "a.b"}')


TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_an_envelope_carries_its_traceparent_through_json() -> None:
    event = Event.new("user.registered", "auth", {}, traceparent=TRACEPARENT)

    body = json.loads(event.to_json())

    assert body["traceparent"] == TRACEPARENT
    assert Event.from_json(event.to_json()).traceparent == TRACEPARENT


def test_an_envelope_without_a_trace_has_no_traceparent_key() -> None:
    # Tracing off: the wire format is what it was before traces existed.
    body = json.loads(Event.new("user.registered", "auth", {}).to_json())

    assert "traceparent" not in body


def test_an_envelope_from_before_traces_parses_without_one() -> None:
    raw = {"id": "e1", "type": "user.registered", "version": 1,
           "occurredAt": "2026-01-01T00:00:00Z", "producer": "auth", "data": {},
           "correlationId": "r1", "causationId": None}

    assert Event.from_json(json.dumps(raw)).traceparent is None
