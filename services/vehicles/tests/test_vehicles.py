"""Create, list, read, update and delete the caller's vehicles."""

import re

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


async def test_create_returns_201_and_the_vehicle(alice, unique_vin):
    vin = unique_vin()
    response = await alice.post("/api/vehicles/", {
        "vin": vin, "make": "Honda", "model": "Civic", "trim": "EX", "year": 2020,
        "licensePlate": "ABC123", "odometer": 15000.5, "fuelType": "gasoline"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "user", "vin", "make", "model", "trim", "year", "licensePlate",
                         "odometer", "dongleId", "dongleConnectionType", "fuelType",
                         "createdAt"}
    assert body["user"] == alice.user_id
    assert (body["vin"], body["make"], body["model"], body["trim"], body["year"]) == (
        vin, "Honda", "Civic", "EX", 2020)
    assert (body["licensePlate"], body["odometer"], body["fuelType"]) == (
        "ABC123", 15000.5, "gasoline")
    assert body["dongleId"] is None and body["dongleConnectionType"] is None
    assert ISO_Z.match(body["createdAt"])


async def test_absent_optional_fields_are_null_and_odometer_defaults_to_zero(alice):
    body = await alice.create_vehicle()
    assert body["trim"] is None and body["licensePlate"] is None and body["fuelType"] is None
    assert body["odometer"] == 0


async def test_lowercase_vin_is_stored_upper_case(alice, unique_vin):
    vin = unique_vin()
    created = await alice.create_vehicle(vin=vin.lower())
    assert created["vin"] == vin
    assert (await alice.get(f"/api/vehicles/{created['id']}/")).json()["vin"] == vin


async def test_list_returns_only_the_callers_vehicles_oldest_first(alice, bob):
    first = await alice.create_vehicle()
    await bob.create_vehicle()
    second = await alice.create_vehicle()
    response = await alice.get("/api/vehicles/")
    assert response.status_code == 200
    assert [v["id"] for v in response.json()] == [first["id"], second["id"]]


async def test_list_is_empty_for_a_new_member(alice):
    response = await alice.get("/api/vehicles/")
    assert response.status_code == 200 and response.json() == []


async def test_get_returns_the_vehicle(alice):
    created = await alice.create_vehicle()
    response = await alice.get(f"/api/vehicles/{created['id']}/")
    assert response.status_code == 200 and response.json() == created


async def test_patch_changes_only_the_fields_sent(alice):
    created = await alice.create_vehicle(trim="EX", licensePlate="ABC123")
    response = await alice.patch(f"/api/vehicles/{created['id']}/",
                                 {"licensePlate": "XYZ789", "odometer": 20000})
    assert response.status_code == 200
    assert response.json() == {**created, "licensePlate": "XYZ789", "odometer": 20000}
    assert (await alice.get(f"/api/vehicles/{created['id']}/")).json() == response.json()


async def test_patch_may_lower_the_odometer(alice):
    created = await alice.create_vehicle(odometer=50000)
    response = await alice.patch(f"/api/vehicles/{created['id']}/", {"odometer": 4999.5})
    assert response.status_code == 200 and response.json()["odometer"] == 4999.5


async def test_patch_clears_nullable_fields_with_null(alice):
    created = await alice.create_vehicle(trim="EX", fuelType="diesel")
    response = await alice.patch(f"/api/vehicles/{created['id']}/",
                                 {"trim": None, "fuelType": None})
    assert response.status_code == 200
    assert response.json()["trim"] is None and response.json()["fuelType"] is None


async def test_patch_with_a_lowercase_vin_stores_it_upper_case(alice, unique_vin):
    created = await alice.create_vehicle()
    vin = unique_vin()
    response = await alice.patch(f"/api/vehicles/{created['id']}/", {"vin": vin.lower()})
    assert response.status_code == 200 and response.json()["vin"] == vin


async def test_delete_returns_204_and_the_vehicle_is_gone(alice):
    created = await alice.create_vehicle()
    response = await alice.delete(f"/api/vehicles/{created['id']}/")
    assert response.status_code == 204 and response.content == b""
    missing = await alice.get(f"/api/vehicles/{created['id']}/")
    assert missing.status_code == 404
    assert (await alice.get("/api/vehicles/")).json() == []


async def test_a_deleted_vin_can_be_registered_again(alice):
    created = await alice.create_vehicle()
    await alice.delete(f"/api/vehicles/{created['id']}/")
    again = await alice.post("/api/vehicles/", {"vin": created["vin"], "make": "Honda",
                                                "model": "Civic", "year": 2020})
    assert again.status_code == 201
