"""Bad input through the gateway (CONTRACT.md, "Errors"): always a 4xx JSON body, never 5xx.

Bodies nested deeper than 64 levels, and path or body values no store can hold (control
characters, NUL, lone surrogates, dates outside the years every time zone can hold), on
a route the gateway parses itself (login) and on the services' routes.
"""

from __future__ import annotations

import json

import pytest

JSON = {"Content-Type": "application/json"}
FUZZ_ID = "%01%60%C2%A89%E1%A4%A6"  # schemathesis' find: a control character, then UTF-8


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def assert_json_error(response, status: int) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.json()) == {"error"}


@pytest.mark.parametrize("path", ["/api/auth/login/", "/api/auth/register/"])
def test_a_body_nested_too_deep_is_400_json_at_login(gateway, path):
    for levels in (65, 5000):
        response = gateway.post(path, content=deep(levels), headers=JSON)
        assert_json_error(response, 400)
        assert "nested deeper than 64" in response.json()["error"]


def test_a_body_nested_too_deep_is_400_json_at_a_service(gateway, member):
    for levels in (65, 5000):
        response = gateway.post("/api/vehicles/", content=deep(levels),
                                headers={**member["headers"], **JSON})
        assert_json_error(response, 400)
    at_limit = gateway.post("/api/vehicles/", content=deep(64),
                            headers={**member["headers"], **JSON})
    assert at_limit.status_code == 400 and "nonFieldErrors" in at_limit.json()


def test_malformed_json_is_400_with_an_error(gateway, member):
    response = gateway.post("/api/vehicles/", content=b'{"vin": ',
                            headers={**member["headers"], **JSON})
    assert_json_error(response, 400)


@pytest.mark.parametrize("read", ["summary", "samples", "trips"])
@pytest.mark.parametrize("vehicle_id", [FUZZ_ID, "%00", "a%0Ab", "%7F", "%C2%85"])
def test_a_vehicle_id_no_store_can_hold_is_404_json(gateway, member, read, vehicle_id):
    response = gateway.get(f"/api/telematics/{vehicle_id}/{read}/", headers=member["headers"])
    assert_json_error(response, 404)


@pytest.mark.parametrize("path", ["/api/vehicles/%00/", "/api/appointments/%00/",
                                  "/api/files/%01/", "/api/offers/%00/",
                                  f"/api/chat/threads/{FUZZ_ID}/messages/"])
def test_other_ids_no_store_can_hold_are_404_json(gateway, member, path):
    assert_json_error(gateway.get(path, headers=member["headers"]), 404)


def test_a_query_value_no_store_can_hold_is_400_json(gateway, member, garage):
    vehicle = garage.create(member["headers"])
    response = gateway.get(f"/api/telematics/{vehicle['id']}/samples/?cursor=%00",
                           headers=member["headers"])
    assert_json_error(response, 400)


@pytest.fixture
def location(gateway, users, bearer) -> dict:  # type: ignore[no-untyped-def]
    response = gateway.post("/api/appointments/locations/", json={"name": "Edge Garage"},
                            headers=bearer(users.admin_token()))
    assert response.status_code == 201, response.text
    return dict(response.json())


def book(gateway, member, body: dict) -> object:  # type: ignore[no-untyped-def]
    raw = json.dumps(body).encode("utf-8", "surrogatepass")
    return gateway.post("/api/appointments/book/", content=raw,
                        headers={**member["headers"], **JSON})


@pytest.mark.parametrize("vehicle_id", ["\ud800", "x\udfffy", "a\u0000b"])
def test_a_body_string_no_store_can_hold_is_400_json(gateway, member, location, vehicle_id):
    response = book(gateway, member, {"vehicleId": vehicle_id, "locationId": location["id"],
                                      "startTime": "2031-01-06T10:00:00Z"})
    assert_json_error(response, 400)


def test_an_id_with_a_control_character_is_a_400_field_error(gateway, member, location):
    response = book(gateway, member, {"vehicleId": "a\u0001b", "locationId": location["id"],
                                      "startTime": "2031-01-06T10:00:00Z"})
    assert response.status_code == 400 and list(response.json()) == ["vehicleId"]


@pytest.mark.parametrize("start", ["0234-01-06T10:00:00Z", "0001-01-01T00:00:00+01:00",
                                   "9999-12-31T23:30:00-05:00", "0001-01-01T00:00:00Z"])
def test_a_start_time_far_in_the_past_or_future_is_4xx_json(gateway, member, garage,
                                                            location, start):
    vehicle = garage.create(member["headers"])
    response = book(gateway, member, {"vehicleId": vehicle["id"],
                                      "locationId": location["id"], "startTime": start})
    assert response.status_code in (400, 409), response.text
    assert response.headers["content-type"].startswith("application/json")


def test_a_date_no_time_zone_can_hold_is_400_json(gateway, member, location):
    for day in ("0001-01-01", "9999-12-31"):
        response = gateway.get("/api/appointments/availability/", headers=member["headers"],
                               params={"locationId": location["id"], "date": day})
        assert response.status_code == 400 and list(response.json()) == ["date"]
