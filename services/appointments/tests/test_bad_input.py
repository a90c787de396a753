"""Input no store (or time zone) can hold is a 4xx, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json

import pytest

from shared.schemas import NOT_AN_ID, OUT_OF_RANGE


async def book_raw(member, body: dict) -> object:  # type: ignore[no-untyped-def]
    raw = json.dumps(body).encode("utf-8", "surrogatepass")
    return await member.client.post("/api/appointments/book/", content=raw, headers={
        **member.headers, "Content-Type": "application/json"})


@pytest.mark.parametrize("vehicle_id", ["\ud800", "a\udfff", "\ud83d", "nul\u0000"])
async def test_a_vehicle_id_no_store_can_hold_is_400(api, member, vehicle_id):
    location = await api.location()
    response = await book_raw(member, {"vehicleId": vehicle_id, "locationId": location["id"],
                                       "startTime": "2031-01-06T10:00:00Z"})
    assert response.status_code == 400 and set(response.json()) == {"error"}


@pytest.mark.parametrize("field", ["vehicleId", "locationId"])
async def test_an_id_with_a_control_character_is_a_400_field_error(api, member, field):
    location = await api.location()
    body = {"vehicleId": member.vehicle_id, "locationId": location["id"],
            "startTime": "2031-01-06T10:00:00Z", field: "a\u0001b"}
    response = await book_raw(member, body)
    assert (response.status_code, response.json()) == (400, {field: [NOT_AN_ID]})


@pytest.mark.parametrize("start", ["0001-01-01T00:00:00+01:00", "0001-01-01T12:00:00Z",
                                   "9999-12-31T23:30:00-05:00", "9999-12-31T00:00:00Z"])
async def test_a_start_time_no_time_zone_can_hold_is_a_400_field_error(api, member, start):
    location = await api.location(timezone="Pacific/Kiritimati")
    response = await member.book(location["id"], start)
    assert (response.status_code, response.json()) == (400, {"startTime": [OUT_OF_RANGE]})


@pytest.mark.parametrize(("start", "status"), [("0234-01-06T10:00:00Z", 409),
                                                ("9999-12-30T10:00:00Z", 201)])
async def test_start_times_far_away_but_in_range_are_answered(api, member, start, status):
    location = await api.location(hours={
        day: ["00:00", "23:59"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    response = await member.book(location["id"], start)
    assert response.status_code == status, response.text


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
async def test_an_availability_date_no_time_zone_can_hold_is_400(api, member, day):
    location = await api.location(timezone="Pacific/Kiritimati")
    response = await member.get("/api/appointments/availability/", locationId=location["id"],
                                date=day)
    assert (response.status_code, response.json()) == (400, {"date": [OUT_OF_RANGE]})


async def test_an_appointment_id_with_a_control_character_is_404(member):
    for path in ("/api/appointments/%00/", "/api/appointments/%01x/cancel/"):
        response = await (member.get(path) if "cancel" not in path else member.post(path))
        assert (response.status_code, response.json()) == (404, {"error": "Not found"})
