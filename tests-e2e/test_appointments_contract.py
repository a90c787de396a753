"""The Appointments part of CONTRACT.md, through the gateway.

The platform is shared by the whole session, so every test makes its own locations and
looks only at those.
"""

import asyncio
import random
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

MONDAY, SUNDAY = 0, 6
LOCATIONS = "/api/appointments/locations/"
AVAILABILITY = "/api/appointments/availability/"
BOOK = "/api/appointments/book/"


@pytest.fixture
def admin(users, bearer):
    return bearer(users.admin_token())


def next_weekday(weekday: int) -> date:
    """The first such weekday at least two days ahead: all of it is in the future."""
    day = datetime.now(UTC).date() + timedelta(days=2)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def utc(day: date, hour: int, minute: int = 0) -> str:
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00Z"


def create_location(gateway, admin, **fields):
    response = gateway.post(LOCATIONS, json={"name": f"Garage {uuid.uuid4().hex[:6]}",
                                             **fields}, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def slots(gateway, headers, location_id, day):
    response = gateway.get(AVAILABILITY, params={"locationId": location_id,
                                                 "date": day.isoformat()}, headers=headers)
    assert response.status_code == 200, response.text
    return [slot["start"] for slot in response.json()["availableSlots"]]


def book(gateway, headers, vehicle_id, location_id, start, **extra):
    return gateway.post(BOOK, json={"vehicleId": vehicle_id, "locationId": location_id,
                                    "startTime": start, **extra}, headers=headers)


def test_admins_manage_locations_and_everyone_reads_them(gateway, admin, member):
    created = create_location(gateway, admin)
    assert set(created) == {"id", "name", "address", "lat", "lng", "phone", "timezone",
                            "hours", "capacity", "createdAt"}
    assert (created["timezone"], created["capacity"]) == ("UTC", 1)
    assert created["hours"]["mon"] == ["08:00", "18:00"] and created["hours"]["sun"] is None
    assert created["hours"]["sat"] == ["09:00", "14:00"]
    path = f"{LOCATIONS}{created['id']}/"
    patched = gateway.patch(path, json={"capacity": 3, "timezone": "Europe/Paris"},
                            headers=admin)
    assert patched.status_code == 200
    assert (patched.json()["capacity"], patched.json()["timezone"]) == (3, "Europe/Paris")
    read = gateway.get(path, headers=member["headers"])
    assert read.status_code == 200 and read.json() == patched.json()
    assert created["id"] in {loc["id"] for loc in gateway.get(
        LOCATIONS, headers=member["headers"]).json()}
    missing = gateway.get(f"{LOCATIONS}{uuid.uuid4()}/", headers=member["headers"])
    assert (missing.status_code, missing.json()) == (404, {"error": "Location not found"})


def test_members_get_403_on_admin_routes_and_anonymous_callers_401(gateway, admin, member):
    created = create_location(gateway, admin)
    denied = gateway.post(LOCATIONS, json={"name": "Mine"}, headers=member["headers"])
    assert denied.status_code == 403 and "error" in denied.json()
    denied = gateway.patch(f"{LOCATIONS}{created['id']}/", json={"name": "Mine"},
                           headers=member["headers"])
    assert denied.status_code == 403
    assert gateway.get(LOCATIONS).status_code == 401


def test_location_validation_errors(gateway, admin):
    for body, field in [({}, "name"), ({"name": "A", "timezone": "Mars/Base"}, "timezone"),
                        ({"name": "A", "capacity": 0}, "capacity"),
                        ({"name": "A", "hours": {"mon": ["18:00", "08:00"]}}, "hours.mon"),
                        ({"name": "A", "lat": 100, "lng": 0}, "lat")]:
        response = gateway.post(LOCATIONS, json=body, headers=admin)
        assert response.status_code == 400 and field in response.json(), (body, response.text)
    missing = gateway.post(LOCATIONS, json={}, headers=admin)
    assert missing.json() == {"name": ["This field is required."]}


def test_locations_nearest_first(gateway, admin, member):
    lat, lng = random.uniform(-60, 60), random.uniform(-170, 170)  # away from other tests'
    far = create_location(gateway, admin, lat=lat + 0.5, lng=lng)
    near = create_location(gateway, admin, lat=lat + 0.01, lng=lng)
    listed = gateway.get(LOCATIONS, params={"lat": lat, "lng": lng},
                         headers=member["headers"]).json()
    assert [loc["id"] for loc in listed[:2]] == [near["id"], far["id"]]
    bad = gateway.get(LOCATIONS, params={"lat": "north", "lng": 1}, headers=member["headers"])
    assert bad.status_code == 400 and "lat" in bad.json()
    half = gateway.get(LOCATIONS, params={"lat": 1}, headers=member["headers"])
    assert half.status_code == 400 and "lng" in half.json()


def test_availability(gateway, admin, member):
    location = create_location(gateway, admin, timezone="Asia/Tokyo")
    monday = next_weekday(MONDAY)
    # Tokyo is UTC+9: 08:00-18:00 local is 23:00Z the day before to 09:00Z.
    response = gateway.get(AVAILABILITY, params={"locationId": location["id"],
                                                 "date": monday.isoformat()},
                           headers=member["headers"])
    assert response.status_code == 200
    available = response.json()["availableSlots"]
    assert len(available) == 20
    assert available[0] == {"start": utc(monday - timedelta(days=1), 23),
                            "end": utc(monday - timedelta(days=1), 23, 30)}
    assert available[-1] == {"start": utc(monday, 8, 30), "end": utc(monday, 9)}
    assert slots(gateway, member["headers"], location["id"], next_weekday(SUNDAY)) == []
    required = gateway.get(AVAILABILITY, params={"date": monday.isoformat()},
                           headers=member["headers"])
    assert (required.status_code, required.json()) == (
        400, {"error": "locationId and date are required"})
    bad = gateway.get(AVAILABILITY, params={"locationId": location["id"], "date": "01/02/2030"},
                      headers=member["headers"])
    assert bad.status_code == 400
    unknown = gateway.get(AVAILABILITY, params={"locationId": str(uuid.uuid4()),
                                                "date": monday.isoformat()},
                          headers=member["headers"])
    assert unknown.status_code == 404


def test_availability_on_dst_days_in_new_york(gateway, admin, member):
    year = datetime.now(UTC).year + 1
    march, november = date(year, 3, 1), date(year, 11, 1)
    spring = march + timedelta(days=(SUNDAY - march.weekday()) % 7 + 7)  # 2nd Sunday
    autumn = november + timedelta(days=(SUNDAY - november.weekday()) % 7)  # 1st Sunday
    location = create_location(gateway, admin, timezone="America/New_York",
                               hours={"sun": ["00:00", "06:00"]})
    # Spring forward: 00:00-01:30 EST (05:00Z-06:30Z), 02:00 and 02:30 do not exist,
    # 03:00-05:30 EDT (07:00Z-09:30Z).
    assert slots(gateway, member["headers"], location["id"], spring) == [
        utc(spring, h, m) for h in range(5, 10) for m in (0, 30)]
    # Fall back: 00:00 EDT (04:00Z) to 05:30 EST (10:30Z), the repeated hour twice.
    assert slots(gateway, member["headers"], location["id"], autumn) == [
        utc(autumn, h, m) for h in range(4, 11) for m in (0, 30)]


def test_book_list_read_and_cancel(gateway, admin, garage, member):
    headers = member["headers"]
    vehicle = garage.create(headers)
    location = create_location(gateway, admin)
    monday = next_weekday(MONDAY)
    booked = book(gateway, headers, vehicle["id"], location["id"], utc(monday, 10),
                  services=["oil_change"])
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert set(body) == {"id", "user", "vehicle", "location", "startTime", "endTime",
                         "services", "status", "createdAt"}
    assert (body["user"], body["vehicle"], body["location"]) == (
        member["id"], vehicle["id"], location["id"])
    assert (body["startTime"], body["endTime"], body["status"]) == (
        utc(monday, 10), utc(monday, 11), "scheduled")
    assert utc(monday, 10) not in slots(gateway, headers, location["id"], monday)
    upcoming = gateway.get("/api/appointments/upcoming/", headers=headers)
    assert [a["id"] for a in upcoming.json()] == [body["id"]]
    path = f"/api/appointments/{body['id']}/"
    assert gateway.get(path, headers=headers).json() == body
    cancelled = gateway.post(f"{path}cancel/", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = gateway.post(f"{path}cancel/", headers=headers)
    assert again.status_code == 409 and "error" in again.json()
    assert utc(monday, 10) in slots(gateway, headers, location["id"], monday)
    assert gateway.get("/api/appointments/upcoming/", headers=headers).json() == []


def test_booking_errors(gateway, admin, garage, users, bearer, member):
    headers = member["headers"]
    vehicle = garage.create(headers)
    location = create_location(gateway, admin)
    monday = next_weekday(MONDAY)
    missing = gateway.post(BOOK, json={"vehicleId": vehicle["id"]}, headers=headers)
    assert missing.status_code == 400
    assert missing.json() == {"locationId": ["This field is required."],
                              "startTime": ["This field is required."]}
    off_grid = book(gateway, headers, vehicle["id"], location["id"], utc(monday, 10, 15))
    assert off_grid.status_code == 400 and "startTime" in off_grid.json()
    unknown = book(gateway, headers, vehicle["id"], str(uuid.uuid4()), utc(monday, 10))
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Location not found"})
    past = book(gateway, headers, vehicle["id"], location["id"], "2020-01-06T10:00:00Z")
    assert past.status_code == 409 and "error" in past.json()
    late = book(gateway, headers, vehicle["id"], location["id"], utc(monday, 17, 30))
    assert late.status_code == 409 and "error" in late.json()
    intruder = bearer(users.register()["accessToken"])
    theirs = book(gateway, intruder, vehicle["id"], location["id"], utc(monday, 10))
    assert (theirs.status_code, theirs.json()) == (404, {"error": "Vehicle not found"})
    mine = book(gateway, headers, vehicle["id"], location["id"], utc(monday, 10)).json()
    for response in (gateway.get(f"/api/appointments/{mine['id']}/", headers=intruder),
                     gateway.post(f"/api/appointments/{mine['id']}/cancel/", headers=intruder)):
        assert (response.status_code, response.json()) == (
            404, {"error": "Appointment not found"})


async def test_twenty_simultaneous_bookings_of_a_three_bay_slot_give_exactly_three(
        gateway, admin, garage, users, bearer, platform_url):
    location = create_location(gateway, admin, capacity=3)
    monday = next_weekday(MONDAY)
    callers = []
    for _ in range(20):
        headers = bearer(users.register()["accessToken"])
        callers.append((headers, garage.create(headers)["id"]))

    async with httpx.AsyncClient(base_url=platform_url, timeout=60) as client:
        responses = await asyncio.gather(*(
            client.post(BOOK, json={"vehicleId": vehicle_id, "locationId": location["id"],
                                    "startTime": utc(monday, 10)}, headers=headers)
            for headers, vehicle_id in callers))

    assert sorted(r.status_code for r in responses) == [201] * 3 + [409] * 17, [
        r.text for r in responses]
    headers = callers[0][0]
    assert utc(monday, 10) not in slots(gateway, headers, location["id"], monday)
    winner = next(i for i, r in enumerate(responses) if r.status_code == 201)
    cancel = gateway.post(f"/api/appointments/{responses[winner].json()['id']}/cancel/",
                          headers=callers[winner][0])
    assert cancel.status_code == 200
    assert utc(monday, 10) in slots(gateway, headers, location["id"], monday)
