"""Locations: admins create and change them, anyone signed in reads and lists them."""

import re

import pytest

from testsupport.apps import wait_until

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
DEFAULT_HOURS = {"mon": ["08:00", "18:00"], "tue": ["08:00", "18:00"],
                 "wed": ["08:00", "18:00"], "thu": ["08:00", "18:00"],
                 "fri": ["08:00", "18:00"], "sat": ["09:00", "14:00"], "sun": None}


async def test_create_with_only_a_name_applies_the_contract_defaults(api):
    body = await api.location(name="  Downtown  ")
    assert set(body) == {"id", "name", "address", "lat", "lng", "phone", "timezone", "hours",
                         "capacity", "createdAt"}
    assert body["name"] == "Downtown"
    assert (body["timezone"], body["capacity"], body["hours"]) == ("UTC", 1, DEFAULT_HOURS)
    assert (body["address"], body["lat"], body["lng"], body["phone"]) == (None,) * 4
    assert ISO_Z.match(body["createdAt"])


async def test_create_with_every_field_and_read_it_back(api, member):
    hours = {"mon": ["07:30", "19:00"], "sat": None, "sun": ["10:00", "24:00"]}
    body = await api.location(name="Brooklyn", address="1 Main St", lat=40.6782,
                              lng=-73.9442, phone="+1 555 0100", timezone="America/New_York",
                              hours=hours, capacity=4)
    assert body["hours"] == {"mon": ["07:30", "19:00"], "tue": None, "wed": None,
                             "thu": None, "fri": None, "sat": None, "sun": ["10:00", "24:00"]}
    assert (body["lat"], body["lng"], body["capacity"]) == (40.6782, -73.9442, 4)
    read = await member.get(f"/api/appointments/locations/{body['id']}/")
    assert read.status_code == 200 and read.json() == body


async def test_members_and_support_may_not_create_or_change_locations(api):
    created = await api.location()
    for role in ("member", "support"):
        caller = api.caller(role)
        denied = await caller.post("/api/appointments/locations/", {"name": "Mine"})
        assert denied.status_code == 403 and "error" in denied.json()
        patch = await caller.patch(f"/api/appointments/locations/{created['id']}/",
                                   {"name": "Mine"})
        assert patch.status_code == 403
    assert len((await api.admin.get("/api/appointments/locations/")).json()) == 1


async def test_every_route_needs_a_token(api, client):
    created = await api.location()
    for method, path in [("GET", "/api/appointments/locations/"),
                         ("POST", "/api/appointments/locations/"),
                         ("GET", f"/api/appointments/locations/{created['id']}/"),
                         ("PATCH", f"/api/appointments/locations/{created['id']}/")]:
        response = await client.request(method, path, json={"name": "x"})
        assert response.status_code == 401, (method, path)
        assert "error" in response.json()


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"),
    ({"name": "   "}, "name"),
    ({"name": None}, "name"),
    ({"name": "A", "timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"name": "A", "timezone": "../../etc/passwd"}, "timezone"),
    ({"name": "A", "timezone": None}, "timezone"),
    ({"name": "A", "capacity": 0}, "capacity"),
    ({"name": "A", "capacity": "3"}, "capacity"),
    ({"name": "A", "capacity": True}, "capacity"),
    ({"name": "A", "lat": 91, "lng": 0}, "lat"),
    ({"name": "A", "lat": 0, "lng": -180.5}, "lng"),
    ({"name": "A", "lat": "40.7", "lng": 0}, "lat"),
    ({"name": "A", "lat": 40.7}, "lng"),
    ({"name": "A", "lng": 40.7}, "lat"),
    ({"name": "A", "hours": None}, "hours"),
    ({"name": "A", "hours": ["08:00", "18:00"]}, "hours"),
    ({"name": "A", "hours": {"mon": ["18:00", "08:00"]}}, "hours.mon"),
    ({"name": "A", "hours": {"tue": ["8am", "6pm"]}}, "hours.tue"),
    ({"name": "A", "hours": {"wed": ["08:00"]}}, "hours.wed"),
    ({"name": "A", "hours": {"thu": "08:00-18:00"}}, "hours.thu"),
    ({"name": "A", "hours": {"holiday": ["08:00", "18:00"]}}, "hours.holiday"),
])
async def test_invalid_locations_are_400_with_the_field_named(api, body, field):
    response = await api.admin.post("/api/appointments/locations/", body)
    assert response.status_code == 400, response.text
    assert field in response.json()
    assert all(isinstance(messages, list) for messages in response.json().values())


async def test_a_missing_name_says_the_field_is_required(api):
    response = await api.admin.post("/api/appointments/locations/", {"capacity": 2})
    assert (response.status_code, response.json()) == (
        400, {"name": ["This field is required."]})


async def test_patch_changes_only_the_fields_sent(api):
    created = await api.location(address="1 Main St", capacity=2)
    path = f"/api/appointments/locations/{created['id']}/"
    response = await api.admin.patch(path, {"capacity": 5, "timezone": "Asia/Tokyo",
                                            "hours": {"sun": ["09:00", "12:00"]}})
    assert response.status_code == 200
    week = dict.fromkeys(DEFAULT_HOURS) | {"sun": ["09:00", "12:00"]}
    assert response.json() == {**created, "capacity": 5, "timezone": "Asia/Tokyo",
                               "hours": week}
    assert (await api.admin.get(path)).json() == response.json()


async def test_patch_may_clear_optional_fields_but_not_required_ones(api):
    created = await api.location(address="1 Main St", phone="555", lat=1.0, lng=2.0)
    path = f"/api/appointments/locations/{created['id']}/"
    cleared = await api.admin.patch(path, {"address": None, "phone": None, "lat": None,
                                           "lng": None})
    assert cleared.status_code == 200
    assert [cleared.json()[k] for k in ("address", "phone", "lat", "lng")] == [None] * 4
    for field in ("name", "timezone", "capacity", "hours"):
        response = await api.admin.patch(path, {field: None})
        assert response.status_code == 400 and field in response.json(), field


async def test_patch_cannot_leave_half_a_point(api):
    created = await api.location(lat=1.0, lng=2.0)
    response = await api.admin.patch(f"/api/appointments/locations/{created['id']}/",
                                      {"lat": None})
    assert response.status_code == 400 and "lat" in response.json()


async def test_patch_rejects_an_unknown_timezone(api):
    created = await api.location()
    response = await api.admin.patch(f"/api/appointments/locations/{created['id']}/",
                                      {"timezone": "Europe/Atlantis"})
    assert response.status_code == 400 and "timezone" in response.json()


async def test_unknown_location_is_404(api, member):
    for response in (await member.get("/api/appointments/locations/no-such-id/"),
                     await api.admin.patch("/api/appointments/locations/no-such-id/",
                                           {"name": "X"})):
        assert (response.status_code, response.json()) == (404, {"error": "Location not found"})


async def test_list_is_oldest_first_without_a_point(api, member):
    first = await api.location(name="A")
    second = await api.location(name="B")
    response = await member.get("/api/appointments/locations/")
    assert response.status_code == 200
    assert [loc["id"] for loc in response.json()] == [first["id"], second["id"]]


async def test_list_is_nearest_first_with_a_point(api, member):
    london = await api.location(name="London", lat=51.5074, lng=-0.1278)
    nowhere = await api.location(name="No coordinates")
    new_york = await api.location(name="New York", lat=40.7128, lng=-74.0060)
    boston = await api.location(name="Boston", lat=42.3601, lng=-71.0589)
    # From Philadelphia: New York ~130 km, Boston ~440 km, London ~5,700 km.
    response = await member.get("/api/appointments/locations/", lat="39.9526",
                                lng="-75.1652")
    assert [loc["id"] for loc in response.json()] == [
        new_york["id"], boston["id"], london["id"], nowhere["id"]]
    # From Paris, London is nearest.
    response = await member.get("/api/appointments/locations/", lat="48.8566", lng="2.3522")
    assert response.json()[0]["id"] == london["id"]


@pytest.mark.parametrize(("params", "field"), [
    ({"lat": "abc", "lng": "0"}, "lat"),
    ({"lat": "0", "lng": "east"}, "lng"),
    ({"lat": "95", "lng": "0"}, "lat"),
    ({"lat": "0", "lng": "-181"}, "lng"),
    ({"lat": "nan", "lng": "0"}, "lat"),
    ({"lat": "40.7"}, "lng"),
    ({"lng": "-74"}, "lat"),
])
async def test_bad_or_half_points_are_400_field_maps(member, params, field):
    response = await member.get("/api/appointments/locations/", **params)
    assert response.status_code == 400 and field in response.json()


async def test_create_and_update_publish_location_events(api, recorder):
    created = await api.location(name="Harbour", lat=1.5, lng=2.5)
    await api.admin.patch(f"/api/appointments/locations/{created['id']}/", {"name": "Pier"})
    await wait_until(lambda: len(recorder.of("location.updated")) == 1)
    assert recorder.of("location.created")[0].data == {
        "locationId": created["id"], "lat": 1.5, "lng": 2.5, "name": "Harbour"}
    assert recorder.of("location.updated")[0].data == {
        "locationId": created["id"], "lat": 1.5, "lng": 2.5, "name": "Pier"}


async def test_a_rejected_change_publishes_nothing(api, recorder):
    created = await api.location(lat=1.0, lng=2.0)
    await api.admin.patch(f"/api/appointments/locations/{created['id']}/", {"lng": None})
    await wait_until(lambda: len(recorder.of("location.created")) == 1)
    assert recorder.of("location.updated") == []
