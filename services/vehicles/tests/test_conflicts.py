"""409s: one VIN per owner, one vehicle per dongle, held by the database under concurrency."""

import asyncio

VIN_TAKEN = {"error": "You have already registered a vehicle with this VIN"}
DONGLE_TAKEN = {"error": "This dongle is already linked to another vehicle"}


def body(vin):
    return {"vin": vin, "make": "Honda", "model": "Civic", "year": 2020}


async def test_same_vin_twice_for_one_user_is_409(alice, unique_vin):
    vin = unique_vin()
    await alice.create_vehicle(vin=vin)
    response = await alice.post("/api/vehicles/", body(vin.lower()))
    assert response.status_code == 409 and response.json() == VIN_TAKEN
    assert len((await alice.get("/api/vehicles/")).json()) == 1


async def test_same_vin_for_another_user_is_allowed(alice, bob, unique_vin):
    vin = unique_vin()
    await alice.create_vehicle(vin=vin)
    response = await bob.post("/api/vehicles/", body(vin))
    assert response.status_code == 201 and response.json()["vin"] == vin


async def test_patching_to_a_vin_the_user_already_has_is_409(alice, unique_vin):
    taken = await alice.create_vehicle()
    other = await alice.create_vehicle()
    response = await alice.patch(f"/api/vehicles/{other['id']}/", {"vin": taken["vin"]})
    assert response.status_code == 409 and response.json() == VIN_TAKEN
    assert (await alice.get(f"/api/vehicles/{other['id']}/")).json()["vin"] == other["vin"]


async def test_patching_a_vehicle_to_its_own_vin_is_allowed(alice):
    vehicle = await alice.create_vehicle()
    response = await alice.patch(f"/api/vehicles/{vehicle['id']}/", {"vin": vehicle["vin"]})
    assert response.status_code == 200


async def test_concurrent_registrations_of_one_vin_let_exactly_one_win(alice, unique_vin):
    vin = unique_vin()
    responses = await asyncio.gather(*(alice.post("/api/vehicles/", body(vin))
                                       for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
    assert len((await alice.get("/api/vehicles/")).json()) == 1


async def test_dongle_linked_to_another_users_vehicle_is_409(alice, bob):
    mine = await alice.create_vehicle()
    theirs = await bob.create_vehicle()
    await bob.post(f"/api/vehicles/{theirs['id']}/link-dongle/",
                   {"dongleId": "dongle-1", "connectionType": "BLE"})
    response = await alice.post(f"/api/vehicles/{mine['id']}/link-dongle/",
                                {"dongleId": "dongle-1", "connectionType": "WIFI"})
    assert response.status_code == 409 and response.json() == DONGLE_TAKEN
    assert (await alice.get(f"/api/vehicles/{mine['id']}/")).json()["dongleId"] is None


async def test_dongle_linked_to_the_users_other_vehicle_is_409(alice):
    first = await alice.create_vehicle()
    second = await alice.create_vehicle()
    await alice.post(f"/api/vehicles/{first['id']}/link-dongle/",
                     {"dongleId": "dongle-1", "connectionType": "BLE"})
    response = await alice.post(f"/api/vehicles/{second['id']}/link-dongle/",
                                {"dongleId": "dongle-1", "connectionType": "BLE"})
    assert response.status_code == 409 and response.json() == DONGLE_TAKEN


async def test_concurrent_links_of_one_dongle_let_exactly_one_win(alice):
    vehicles = [await alice.create_vehicle() for _ in range(4)]
    responses = await asyncio.gather(*(
        alice.post(f"/api/vehicles/{v['id']}/link-dongle/",
                   {"dongleId": "dongle-1", "connectionType": "BLE"})
        for v in vehicles))
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
    linked = [v for v in (await alice.get("/api/vehicles/")).json() if v["dongleId"]]
    assert len(linked) == 1
