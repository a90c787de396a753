"""Input no store can hold is a 4xx, on SQLite and on PostgreSQL (CONTRACT.md, "Errors")."""

from __future__ import annotations

import base64
import json

import pytest

from telematics.batches import EARLIEST_MS, LATEST_MS

FUZZ_ID = "%01%60%C2%A89%E1%A4%A6"  # a control character, then valid UTF-8


@pytest.mark.parametrize("read", ["summary", "samples", "trips"])
@pytest.mark.parametrize("vehicle_id", [FUZZ_ID, "%00", "a%1Fb", "%C2%9F"])
async def test_a_vehicle_id_with_a_control_character_is_404(api, vehicles, read, vehicle_id):
    _, token, _ = await api.new_owner()
    response = await api.client.get(f"/api/telematics/{vehicle_id}/{read}/",
                                    headers=api.bearer(token))
    assert (response.status_code, response.json()) == (404, {"error": "Not found"})
    assert vehicles.calls == []


@pytest.mark.parametrize("vehicle_id", ["a%3Fb", "a%23b", "a b", "%FF%FE"])
async def test_an_unknown_vehicle_id_is_asked_for_quoted_and_is_404(api, vehicles,
                                                                   vehicle_id):
    _, token, _ = await api.new_owner()
    response = await api.client.get(f"/api/telematics/{vehicle_id}/summary/",
                                    headers=api.bearer(token))
    assert (response.status_code, response.json()) == (404, {"error": "Vehicle not found"})
    assert len(vehicles.calls) == 1 and vehicles.calls[0].startswith("/api/vehicles/")


def cursor(t: object, batch_id: object, seq: object) -> str:
    raw = json.dumps([t, batch_id, seq]).encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("params", [
    {"from": "9" * 30}, {"to": "-" + "9" * 30}, {"limit": str(2**70)},
    {"cursor": cursor(1, "\u0000", 1)}, {"cursor": cursor(1, "\ud800", 1)},
    {"cursor": cursor(2**64, "a", 1)}, {"cursor": cursor(1, "a", True)},
    {"cursor": base64.urlsafe_b64encode(b"[" * 5000).decode()},
])
async def test_query_values_no_store_can_hold_are_400_field_errors(api, params):
    _, token, vehicle_id = await api.new_owner()
    response = await api.client.get(f"/api/telematics/{vehicle_id}/samples/", params=params,
                                    headers=api.bearer(token))
    assert response.status_code == 400
    assert list(response.json()) == [next(iter(params))]


@pytest.mark.parametrize("t", [EARLIEST_MS - 1, LATEST_MS + 1, 2**63 - 1, -(2**63)])
async def test_a_sample_time_no_date_can_hold_is_400_and_nothing_is_stored(api, t):
    _, token, vehicle_id = await api.new_owner()
    response = await api.upload(token, vehicle_id, [{"t": t, "speed": 10.0}])
    assert response.status_code == 400
    assert set(response.json()) == {"startTimestamp", "endTimestamp", "samples.0.t"}
    assert await api.count() == 0


async def test_samples_at_the_edges_of_the_dates_are_stored_and_read_back(api):
    _, token, vehicle_id = await api.new_owner()
    edges = [{"t": EARLIEST_MS, "speed": 10.0}, {"t": LATEST_MS, "speed": 20.0}]
    assert (await api.upload(token, vehicle_id, edges)).status_code == 202
    for read in ("summary", "samples", "trips"):
        response = await api.client.get(f"/api/telematics/{vehicle_id}/{read}/",
                                        headers=api.bearer(token))
        assert response.status_code == 200, (read, response.text)
    summary = await api.client.get(f"/api/telematics/{vehicle_id}/summary/",
                                   headers=api.bearer(token))
    assert summary.json()["lastSeenAt"].startswith("9999-12-30T23:59:59")


@pytest.mark.parametrize("body", [
    b'{"vehicleId": "V", "startTimestamp": 1, "endTimestamp": 1, "samples": [{"t": 1, '
    b'"speed": NaN}]}',
    b'{"vehicleId": "V", "startTimestamp": 1, "endTimestamp": 1, "samples": [{"t": 1, '
    b'"boost": Infinity}]}',
    b'{"vehicleId": "V", "startTimestamp": 1, "endTimestamp": 1, "samples": [{"t": 1, '
    b'"note": "\\u0000"}]}',
])
async def test_a_batch_that_could_not_be_read_back_is_400(api, body):
    _, token, vehicle_id = await api.new_owner()
    response = await api.client.post(
        f"/api/telematics/{vehicle_id}/", content=body.replace(b'"V"', json.dumps(
            vehicle_id).encode()), headers={**api.bearer(token),
                                            "Content-Type": "application/json"})
    assert response.status_code == 400 and set(response.json()) == {"error"}
    assert await api.count() == 0
