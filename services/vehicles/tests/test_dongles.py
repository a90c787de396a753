"""Linking and unlinking an OBD-II dongle."""

import pytest


def link_path(vehicle):
    return f"/api/vehicles/{vehicle['id']}/link-dongle/"


def unlink_path(vehicle):
    return f"/api/vehicles/{vehicle['id']}/unlink-dongle/"


@pytest.mark.parametrize("connection_type", ["BLE", "WIFI", "CLOUD"])
async def test_link_dongle_sets_dongle_and_connection_type(alice, connection_type):
    vehicle = await alice.create_vehicle()
    response = await alice.post(link_path(vehicle),
                                {"dongleId": "dongle-123", "connectionType": connection_type})
    assert response.status_code == 200
    assert response.json() == {**vehicle, "dongleId": "dongle-123",
                               "dongleConnectionType": connection_type}
    assert (await alice.get(f"/api/vehicles/{vehicle['id']}/")).json() == response.json()


async def test_linking_the_same_dongle_again_updates_its_connection_type(alice):
    vehicle = await alice.create_vehicle()
    await alice.post(link_path(vehicle), {"dongleId": "dongle-1", "connectionType": "BLE"})
    response = await alice.post(link_path(vehicle),
                                {"dongleId": "dongle-1", "connectionType": "WIFI"})
    assert response.status_code == 200 and response.json()["dongleConnectionType"] == "WIFI"


async def test_linking_another_dongle_replaces_the_first(alice, bob):
    vehicle = await alice.create_vehicle()
    await alice.post(link_path(vehicle), {"dongleId": "old", "connectionType": "BLE"})
    response = await alice.post(link_path(vehicle), {"dongleId": "new", "connectionType": "BLE"})
    assert response.status_code == 200 and response.json()["dongleId"] == "new"
    other = await bob.create_vehicle()
    freed = await bob.post(link_path(other), {"dongleId": "old", "connectionType": "BLE"})
    assert freed.status_code == 200


@pytest.mark.parametrize("missing", ["dongleId", "connectionType"])
async def test_link_dongle_with_a_missing_field_is_400(alice, missing):
    vehicle = await alice.create_vehicle()
    body = {"dongleId": "dongle-1", "connectionType": "BLE"}
    del body[missing]
    response = await alice.post(link_path(vehicle), body)
    assert response.status_code == 400
    assert response.json() == {missing: ["This field is required."]}


async def test_link_dongle_without_a_body_is_400(alice):
    vehicle = await alice.create_vehicle()
    response = await alice.post(link_path(vehicle))
    assert response.status_code == 400


@pytest.mark.parametrize("connection_type", ["USB", "ble", "", None, 1])
async def test_link_dongle_with_an_unknown_connection_type_is_400(alice, connection_type):
    vehicle = await alice.create_vehicle()
    response = await alice.post(link_path(vehicle),
                                {"dongleId": "dongle-1", "connectionType": connection_type})
    assert response.status_code == 400 and list(response.json()) == ["connectionType"]


@pytest.mark.parametrize("dongle_id", ["", "  ", None, 5, "d" * 101])
async def test_link_dongle_with_a_bad_dongle_id_is_400(alice, dongle_id):
    vehicle = await alice.create_vehicle()
    response = await alice.post(link_path(vehicle),
                                {"dongleId": dongle_id, "connectionType": "BLE"})
    assert response.status_code == 400 and list(response.json()) == ["dongleId"]


async def test_link_dongle_to_an_unknown_vehicle_is_404(alice):
    response = await alice.post(link_path({"id": "nope"}),
                                {"dongleId": "dongle-1", "connectionType": "BLE"})
    assert response.status_code == 404 and response.json() == {"error": "Vehicle not found"}


async def test_unlink_dongle_clears_dongle_and_connection_type(alice):
    vehicle = await alice.create_vehicle()
    await alice.post(link_path(vehicle), {"dongleId": "dongle-1", "connectionType": "CLOUD"})
    response = await alice.post(unlink_path(vehicle))
    assert response.status_code == 200
    assert response.json() == {**vehicle, "dongleId": None, "dongleConnectionType": None}


async def test_unlink_without_a_dongle_is_200(alice):
    vehicle = await alice.create_vehicle()
    response = await alice.post(unlink_path(vehicle))
    assert response.status_code == 200 and response.json()["dongleId"] is None


async def test_unlink_dongle_of_an_unknown_vehicle_is_404(alice):
    response = await alice.post(unlink_path({"id": "nope"}))
    assert response.status_code == 404 and response.json() == {"error": "Vehicle not found"}


async def test_an_unlinked_dongle_can_be_linked_to_another_vehicle(alice):
    first = await alice.create_vehicle()
    second = await alice.create_vehicle()
    await alice.post(link_path(first), {"dongleId": "dongle-1", "connectionType": "BLE"})
    await alice.post(unlink_path(first))
    response = await alice.post(link_path(second),
                                {"dongleId": "dongle-1", "connectionType": "BLE"})
    assert response.status_code == 200


async def test_deleting_a_vehicle_frees_its_dongle(alice):
    first = await alice.create_vehicle()
    second = await alice.create_vehicle()
    await alice.post(link_path(first), {"dongleId": "dongle-1", "connectionType": "BLE"})
    await alice.delete(f"/api/vehicles/{first['id']}/")
    response = await alice.post(link_path(second),
                                {"dongleId": "dongle-1", "connectionType": "BLE"})
    assert response.status_code == 200
