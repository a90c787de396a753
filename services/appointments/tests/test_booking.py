"""Booking, the caller's appointments, and cancelling."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from testsupport.apps import wait_until

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
MONDAY, SUNDAY = 0, 6
BOOK = "/api/appointments/book/"


@pytest.fixture
def monday(api):
    return api.next_weekday(MONDAY)


async def test_booking_returns_201_and_the_appointment(api, member, monday):
    location = await api.location()
    response = await member.book(location["id"], api.utc(monday, 10),
                                 services=["oil_change", "tire_rotation"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "user", "vehicle", "location", "startTime", "endTime",
                         "services", "status", "createdAt"}
    assert (body["user"], body["vehicle"], body["location"]) == (
        member.user_id, member.vehicle_id, location["id"])
    assert (body["startTime"], body["endTime"]) == (api.utc(monday, 10), api.utc(monday, 11))
    assert body["services"] == ["oil_change", "tire_rotation"]
    assert body["status"] == "scheduled" and ISO_Z.match(body["createdAt"])
    read = await member.get(f"/api/appointments/{body['id']}/")
    assert read.status_code == 200 and read.json() == body


async def test_services_default_to_an_empty_list(api, member, monday):
    location = await api.location()
    response = await member.book(location["id"], api.utc(monday, 10))
    assert response.status_code == 201 and response.json()["services"] == []


async def test_a_start_time_with_an_offset_is_the_same_instant(api, member, monday):
    location = await api.location()
    response = await member.book(location["id"], f"{monday.isoformat()}T12:00:00+02:00")
    assert response.status_code == 201
    assert response.json()["startTime"] == api.utc(monday, 10)


async def test_missing_fields_are_a_400_field_map(member):
    response = await member.post(BOOK, {})
    assert response.status_code == 400
    assert response.json() == {"vehicleId": ["This field is required."],
                               "locationId": ["This field is required."],
                               "startTime": ["This field is required."]}


@pytest.mark.parametrize(("extra", "field"), [
    ({"startTime": "tomorrow at ten"}, "startTime"),
    ({"startTime": 1_900_000_000}, "startTime"),
    ({"startTime": None}, "startTime"),
    ({"vehicleId": ""}, "vehicleId"),
    ({"locationId": None}, "locationId"),
    ({"services": "oil_change"}, "services"),
    ({"services": ["   "]}, "services.0"),
    ({"services": [f"s{i}" for i in range(21)]}, "services"),
])
async def test_invalid_fields_are_400(api, member, monday, extra, field):
    location = await api.location()
    body = {"vehicleId": member.vehicle_id, "locationId": location["id"],
            "startTime": api.utc(monday, 10), **extra}
    response = await member.post(BOOK, body)
    assert response.status_code == 400 and field in response.json(), response.text


@pytest.mark.parametrize(("hour", "minute", "second"), [(10, 15, 0), (10, 0, 30), (9, 59, 0)])
async def test_a_start_off_the_slot_grid_is_400(api, member, monday, hour, minute, second):
    location = await api.location()
    start = f"{monday.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}Z"
    response = await member.book(location["id"], start)
    assert response.status_code == 400 and "startTime" in response.json()


async def test_the_slot_grid_follows_the_locations_time_zone(api, member, monday):
    # Kathmandu is UTC+05:45: 10:00 local is 04:15Z; 04:00Z is 09:45 local.
    location = await api.location(timezone="Asia/Kathmandu")
    assert (await member.book(location["id"], api.utc(monday, 4))).status_code == 400
    assert (await member.book(location["id"], api.utc(monday, 4, 15))).status_code == 201


async def test_someone_elses_vehicle_is_404(api, member, monday):
    location = await api.location()
    other = await api.member()
    response = await member.post(BOOK, {"vehicleId": other.vehicle_id,
                                        "locationId": location["id"],
                                        "startTime": api.utc(monday, 10)})
    assert (response.status_code, response.json()) == (404, {"error": "Vehicle not found"})


async def test_a_vehicle_unknown_here_is_asked_of_the_vehicles_service_once(
        api, member, vehicles, monday):
    location = await api.location(capacity=2)
    vehicle_id = str(uuid.uuid4())
    vehicles.owners[vehicle_id] = member.user_id
    for hour in (10, 12):
        response = await member.post(BOOK, {"vehicleId": vehicle_id,
                                            "locationId": location["id"],
                                            "startTime": api.utc(monday, hour)})
        assert response.status_code == 201, response.text
    assert vehicles.calls == [f"/api/vehicles/{vehicle_id}/"]


async def test_a_vehicle_nobody_knows_is_404_and_vehicles_down_is_503(
        api, member, vehicles, monday):
    location = await api.location()
    body = {"vehicleId": str(uuid.uuid4()), "locationId": location["id"],
            "startTime": api.utc(monday, 10)}
    assert (await member.post(BOOK, body)).status_code == 404
    vehicles.down = True
    response = await member.post(BOOK, body)
    assert (response.status_code, response.json()) == (
        503, {"error": "Service unavailable: vehicles"})


async def test_a_deleted_vehicle_cannot_be_booked(api, member, monday):
    location = await api.location()
    await api.publish_vehicle("deleted", member.vehicle_id, member.user_id)
    assert (await member.book(location["id"], api.utc(monday, 10))).status_code == 404


async def test_an_unknown_location_is_404(api, member, monday):
    response = await member.book("no-such-location", api.utc(monday, 10))
    assert (response.status_code, response.json()) == (404, {"error": "Location not found"})


async def test_a_start_in_the_past_is_409(api, member):
    location = await api.location(hours=dict.fromkeys(
        ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), ["00:00", "24:00"]))
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    response = await member.book(location["id"], api.utc(yesterday, 10))
    assert response.status_code == 409 and "past" in response.json()["error"]


@pytest.mark.parametrize(("weekday", "hour", "minute"), [
    (MONDAY, 7, 30),   # starts before opening
    (MONDAY, 17, 30),  # its second half-hour is after closing (18:00)
    (MONDAY, 18, 0),
    (SUNDAY, 10, 0),   # closed all day
])
async def test_an_hour_outside_opening_hours_is_409(api, member, weekday, hour, minute):
    location = await api.location()
    day = api.next_weekday(weekday)
    response = await member.book(location["id"], api.utc(day, hour, minute))
    assert response.status_code == 409 and "opening hours" in response.json()["error"]


async def test_the_last_full_hour_of_the_day_can_be_booked(api, member, monday):
    location = await api.location()
    assert (await member.book(location["id"], api.utc(monday, 17))).status_code == 201


async def test_a_full_slot_is_409_and_overlaps_count_by_half_hour(api, monday):
    location = await api.location(capacity=1)
    first, second = await api.member(), await api.member()
    assert (await first.book(location["id"], api.utc(monday, 10))).status_code == 201
    for hour, minute in ((10, 0), (9, 30), (10, 30)):
        response = await second.book(location["id"], api.utc(monday, hour, minute))
        assert response.status_code == 409, (hour, minute)
        assert response.json() == {"error": "This time slot is fully booked"}
    assert (await second.book(location["id"], api.utc(monday, 9))).status_code == 201
    assert (await second.book(location["id"], api.utc(monday, 11))).status_code == 201


async def test_booked_slots_leave_availability_once_capacity_is_reached(api, monday):
    location = await api.location(capacity=2)
    first, second = await api.member(), await api.member()
    await first.book(location["id"], api.utc(monday, 10))
    slots = await first.slots(location["id"], monday)
    assert api.utc(monday, 10) in slots and api.utc(monday, 10, 30) in slots
    await second.book(location["id"], api.utc(monday, 10))
    slots = await first.slots(location["id"], monday)
    assert api.utc(monday, 10) not in slots and api.utc(monday, 10, 30) not in slots
    assert api.utc(monday, 9, 30) in slots and api.utc(monday, 11) in slots
    assert len(slots) == 18


async def test_bookings_elsewhere_do_not_take_this_locations_bays(api, member, monday):
    here, there = await api.location(), await api.location(name="Uptown")
    await member.book(there["id"], api.utc(monday, 10))
    assert (await member.book(here["id"], api.utc(monday, 10))).status_code == 201


async def test_upcoming_lists_the_callers_live_appointments_soonest_first(api, member,
                                                                        monday):
    location = await api.location(capacity=3)
    later = (await member.book(location["id"], api.utc(monday, 15))).json()
    sooner = (await member.book(location["id"], api.utc(monday, 9))).json()
    dropped = (await member.book(location["id"], api.utc(monday, 12))).json()
    await member.post(f"/api/appointments/{dropped['id']}/cancel/")
    other = await api.member()
    await other.book(location["id"], api.utc(monday, 8))
    response = await member.get("/api/appointments/upcoming/")
    assert response.status_code == 200
    assert [a["id"] for a in response.json()] == [sooner["id"], later["id"]]
    assert (await (await api.member()).get("/api/appointments/upcoming/")).json() == []


async def test_someone_elses_or_an_unknown_appointment_is_404(api, member, monday):
    location = await api.location()
    booked = (await member.book(location["id"], api.utc(monday, 10))).json()
    other = await api.member()
    for caller, appointment_id in ((other, booked["id"]), (member, str(uuid.uuid4())),
                                   (member, "not-a-uuid")):
        for response in (await caller.get(f"/api/appointments/{appointment_id}/"),
                         await caller.post(f"/api/appointments/{appointment_id}/cancel/")):
            assert (response.status_code, response.json()) == (
                404, {"error": "Appointment not found"})
    assert (await member.get(f"/api/appointments/{booked['id']}/")).json()["status"] == (
        "scheduled")


async def test_cancel_frees_the_slot_and_a_second_cancel_is_409(api, monday):
    location = await api.location(capacity=1)
    first, second = await api.member(), await api.member()
    booked = (await first.book(location["id"], api.utc(monday, 10))).json()
    cancelled = await first.post(f"/api/appointments/{booked['id']}/cancel/")
    assert cancelled.status_code == 200
    assert cancelled.json() == {**booked, "status": "cancelled"}
    assert api.utc(monday, 10) in await first.slots(location["id"], monday)
    assert (await second.book(location["id"], api.utc(monday, 10))).status_code == 201
    again = await first.post(f"/api/appointments/{booked['id']}/cancel/")
    assert (again.status_code, again.json()) == (
        409, {"error": "This appointment is already cancelled"})


async def test_booking_and_cancelling_publish_events(api, member, monday, recorder):
    location = await api.location()
    booked = (await member.book(location["id"], api.utc(monday, 10))).json()
    await member.post(f"/api/appointments/{booked['id']}/cancel/")
    await wait_until(lambda: recorder.of("appointment.cancelled"))
    expected = {"appointmentId": booked["id"], "userId": member.user_id,
                "vehicleId": member.vehicle_id, "locationId": location["id"],
                "startTime": api.utc(monday, 10)}
    assert [e.data for e in recorder.of("appointment.booked")] == [expected]
    assert [e.data for e in recorder.of("appointment.cancelled")] == [expected]


async def test_a_refused_booking_publishes_nothing(api, member, monday, recorder):
    location = await api.location()
    await member.book(location["id"], api.utc(monday, 17, 30))
    await member.book(location["id"], api.utc(monday, 10))
    await wait_until(lambda: recorder.of("appointment.booked"))
    assert len(recorder.of("appointment.booked")) == 1
