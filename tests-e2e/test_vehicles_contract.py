"""The Vehicles part of CONTRACT.md, through the gateway."""

import uuid


def test_create_list_get_patch_delete(gateway, garage, member):
    headers = member["headers"]
    vin = garage.new_vin().lower()
    created = garage.create(headers, vin=vin, trim="EX", licensePlate="ABC123",
                             odometer=15000.5, fuelType="gasoline")
    assert set(created) == {"id", "user", "vin", "make", "model", "trim", "year", "licensePlate",
                            "odometer", "dongleId", "dongleConnectionType", "fuelType",
                            "createdAt"}
    assert created["vin"] == vin.upper() and created["user"] == member["id"]
    assert created["odometer"] == 15000.5 and created["createdAt"].endswith("Z")
    listed = gateway.get("/api/vehicles/", headers=headers).json()
    assert [v["id"] for v in listed] == [created["id"]]
    path = f"/api/vehicles/{created['id']}/"
    assert gateway.get(path, headers=headers).json() == created
    patched = gateway.patch(path, json={"licensePlate": "XYZ789"}, headers=headers)
    assert patched.status_code == 200 and patched.json()["licensePlate"] == "XYZ789"
    assert gateway.delete(path, headers=headers).status_code == 204
    missing = gateway.get(path, headers=headers)
    assert (missing.status_code, missing.json()) == (404, {"error": "Vehicle not found"})


def test_validation_errors(gateway, garage, member):
    headers = member["headers"]
    missing = gateway.post("/api/vehicles/", json={"make": "Honda", "model": "Civic",
                                                   "year": 2020}, headers=headers)
    assert (missing.status_code, missing.json()) == (400, {"vin": ["This field is required."]})
    for field, value in [("vin", "1HGBH41JXMN10918"), ("vin", "1HGBH41JXMN10918O"),
                         ("year", 1899), ("year", 2999), ("fuelType", "steam"),
                         ("odometer", -1)]:
        body = {"vin": garage.new_vin(), "make": "Honda", "model": "Civic", "year": 2020,
                field: value}
        response = gateway.post("/api/vehicles/", json=body, headers=headers)
        assert response.status_code == 400, (field, value)
        assert field in response.json(), (field, value)


def test_same_vin_twice_for_one_user_is_409_but_fine_for_another(gateway, garage, users,
                                                                  bearer, member):
    vin = garage.new_vin()
    garage.create(member["headers"], vin=vin)
    again = gateway.post("/api/vehicles/", json={"vin": vin, "make": "A", "model": "B",
                                                 "year": 2020}, headers=member["headers"])
    assert again.status_code == 409 and "error" in again.json()
    other = bearer(users.register()["accessToken"])
    garage.create(other, vin=vin)


def test_link_and_unlink_dongle(gateway, garage, users, bearer, member):
    vehicle = garage.create(member["headers"])
    path = f"/api/vehicles/{vehicle['id']}"
    dongle = f"dongle-{uuid.uuid4().hex[:8]}"
    bad = gateway.post(f"{path}/link-dongle/", json={"dongleId": dongle,
                                                     "connectionType": "USB"},
                       headers=member["headers"])
    assert bad.status_code == 400 and "connectionType" in bad.json()
    assert gateway.post(f"{path}/link-dongle/", json={}, headers=member["headers"]
                        ).status_code == 400
    linked = gateway.post(f"{path}/link-dongle/", json={"dongleId": dongle,
                                                        "connectionType": "BLE"},
                          headers=member["headers"])
    assert linked.status_code == 200
    assert (linked.json()["dongleId"], linked.json()["dongleConnectionType"]) == (dongle, "BLE")
    other = bearer(users.register()["accessToken"])
    elsewhere = garage.create(other)
    conflict = gateway.post(f"/api/vehicles/{elsewhere['id']}/link-dongle/",
                            json={"dongleId": dongle, "connectionType": "WIFI"}, headers=other)
    assert conflict.status_code == 409
    unlinked = gateway.post(f"{path}/unlink-dongle/", headers=member["headers"])
    assert unlinked.status_code == 200 and unlinked.json()["dongleId"] is None


def test_another_users_vehicle_is_404_on_every_route(gateway, garage, users, bearer, member):
    vehicle = garage.create(member["headers"])
    intruder = bearer(users.register()["accessToken"])
    path = f"/api/vehicles/{vehicle['id']}/"
    attempts = [
        gateway.get(path, headers=intruder),
        gateway.patch(path, json={"make": "Stolen"}, headers=intruder),
        gateway.delete(path, headers=intruder),
        gateway.post(f"{path}link-dongle/", json={"dongleId": "d-x", "connectionType": "BLE"},
                     headers=intruder),
        gateway.post(f"{path}unlink-dongle/", headers=intruder),
    ]
    for response in attempts:
        assert response.status_code == 404, response.request.url
        assert response.json() == {"error": "Vehicle not found"}
    assert gateway.get(path, headers=member["headers"]).json()["make"] == "Honda"
