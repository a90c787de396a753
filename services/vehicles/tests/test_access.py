"""Who may see what: a bearer token is required, another user's vehicle is a 404."""

import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

NOT_FOUND = {"error": "Vehicle not found"}
LINK = {"dongleId": "dongle-1", "connectionType": "BLE"}


async def test_no_token_is_401(client):
    response = await client.get("/api/vehicles/")
    assert response.status_code == 401 and "error" in response.json()


async def test_create_without_a_token_is_401(client):
    response = await client.post("/api/vehicles/", json={"vin": "1HGBH41JXMN109186"})
    assert response.status_code == 401


async def test_token_signed_by_another_key_is_401(client, access_token):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = access_token(str(uuid.uuid4()), key=other_key)
    response = await client.get("/api/vehicles/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_refresh_token_is_not_an_access_token(client, access_token):
    token = access_token(str(uuid.uuid4()), typ="refresh")
    response = await client.get("/api/vehicles/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_expired_token_is_401(client, access_token):
    token = access_token(str(uuid.uuid4()), exp=1_000_000)
    response = await client.get("/api/vehicles/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


@pytest.mark.parametrize("vehicle_id", [str(uuid.uuid4()), "not-a-uuid", "x" * 300])
async def test_unknown_or_malformed_id_is_404(alice, vehicle_id):
    response = await alice.get(f"/api/vehicles/{vehicle_id}/")
    assert response.status_code == 404 and response.json() == NOT_FOUND


async def test_another_users_vehicle_is_404_on_get(alice, bob):
    vehicle = await alice.create_vehicle()
    response = await bob.get(f"/api/vehicles/{vehicle['id']}/")
    assert response.status_code == 404 and response.json() == NOT_FOUND


async def test_another_users_vehicle_is_404_on_patch_and_unchanged(alice, bob):
    vehicle = await alice.create_vehicle()
    response = await bob.patch(f"/api/vehicles/{vehicle['id']}/", {"make": "Stolen"})
    assert response.status_code == 404 and response.json() == NOT_FOUND
    assert (await alice.get(f"/api/vehicles/{vehicle['id']}/")).json()["make"] == "Honda"


async def test_another_users_vehicle_is_404_on_delete_and_kept(alice, bob):
    vehicle = await alice.create_vehicle()
    response = await bob.delete(f"/api/vehicles/{vehicle['id']}/")
    assert response.status_code == 404 and response.json() == NOT_FOUND
    assert (await alice.get(f"/api/vehicles/{vehicle['id']}/")).status_code == 200


async def test_another_users_vehicle_is_404_on_link_dongle(alice, bob):
    vehicle = await alice.create_vehicle()
    response = await bob.post(f"/api/vehicles/{vehicle['id']}/link-dongle/", LINK)
    assert response.status_code == 404 and response.json() == NOT_FOUND
    assert (await alice.get(f"/api/vehicles/{vehicle['id']}/")).json()["dongleId"] is None


async def test_another_users_vehicle_is_404_on_unlink_dongle(alice, bob):
    vehicle = await alice.create_vehicle()
    await alice.post(f"/api/vehicles/{vehicle['id']}/link-dongle/", LINK)
    response = await bob.post(f"/api/vehicles/{vehicle['id']}/unlink-dongle/")
    assert response.status_code == 404 and response.json() == NOT_FOUND
    assert (await alice.get(f"/api/vehicles/{vehicle['id']}/")).json()["dongleId"] == "dongle-1"


async def test_patch_of_an_unknown_vehicle_is_404(alice):
    response = await alice.patch(f"/api/vehicles/{uuid.uuid4()}/", {"make": "Honda"})
    assert response.status_code == 404
