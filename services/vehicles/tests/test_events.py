"""What the vehicles service publishes: vehicle.* through the outbox, after the commit."""

import uuid

from shared.events import Event, MemoryBus
from testsupport.apps import wait_until

VEHICLE_EVENTS = ["vehicle.created", "vehicle.updated", "vehicle.deleted"]


async def listen() -> tuple[MemoryBus, list[Event]]:
    """A listener on the in-process hub, like another service's queue."""
    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    listener = MemoryBus()
    await listener.subscribe(f"test.{uuid.uuid4().hex}", VEHICLE_EVENTS, record)
    return listener, seen


def of_type(seen, event_type, vehicle_id):
    return [e for e in seen if e.type == event_type and e.data["vehicleId"] == vehicle_id]


async def test_create_publishes_vehicle_created_with_ownership_data(alice):
    listener, seen = await listen()
    vehicle = await alice.create_vehicle()
    await wait_until(lambda: of_type(seen, "vehicle.created", vehicle["id"]))
    await listener.close()
    event = of_type(seen, "vehicle.created", vehicle["id"])[0]
    assert event.producer == "vehicles" and event.version == 1
    assert event.data == {"vehicleId": vehicle["id"], "userId": alice.user_id,
                          "vin": vehicle["vin"], "dongleId": None}


async def test_patch_publishes_vehicle_updated(alice, unique_vin):
    listener, seen = await listen()
    vehicle = await alice.create_vehicle()
    new_vin = unique_vin()
    await alice.patch(f"/api/vehicles/{vehicle['id']}/", {"vin": new_vin})
    await wait_until(lambda: of_type(seen, "vehicle.updated", vehicle["id"]))
    await listener.close()
    assert of_type(seen, "vehicle.updated", vehicle["id"])[0].data["vin"] == new_vin


async def test_link_and_unlink_publish_vehicle_updated_with_the_dongle(alice):
    listener, seen = await listen()
    vehicle = await alice.create_vehicle()
    await alice.post(f"/api/vehicles/{vehicle['id']}/link-dongle/",
                     {"dongleId": "dongle-9", "connectionType": "WIFI"})
    await alice.post(f"/api/vehicles/{vehicle['id']}/unlink-dongle/")
    await wait_until(lambda: len(of_type(seen, "vehicle.updated", vehicle["id"])) == 2)
    await listener.close()
    linked, unlinked = of_type(seen, "vehicle.updated", vehicle["id"])
    assert linked.data["dongleId"] == "dongle-9" and unlinked.data["dongleId"] is None


async def test_delete_publishes_vehicle_deleted(alice):
    listener, seen = await listen()
    vehicle = await alice.create_vehicle()
    await alice.delete(f"/api/vehicles/{vehicle['id']}/")
    await wait_until(lambda: of_type(seen, "vehicle.deleted", vehicle["id"]))
    await listener.close()
    assert of_type(seen, "vehicle.deleted", vehicle["id"])[0].data == {
        "vehicleId": vehicle["id"], "userId": alice.user_id, "vin": vehicle["vin"],
        "dongleId": None}


async def test_a_refused_registration_publishes_nothing(app, alice, unique_vin):
    listener, seen = await listen()
    vin = unique_vin()
    first = await alice.create_vehicle(vin=vin)
    refused = await alice.post("/api/vehicles/", {"vin": vin, "make": "Honda", "model": "Civic",
                                                  "year": 2020})
    assert refused.status_code == 409
    await wait_until(lambda: of_type(seen, "vehicle.created", first["id"]))
    await app.state.relay.publish_pending()
    await listener.close()
    assert [e.data["vin"] for e in seen if e.type == "vehicle.created"] == [vin]


async def test_health_readiness_and_metrics(client, alice):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    await alice.get("/api/vehicles/")
    assert 'route="/api/vehicles/"' in (await client.get("/metrics")).text


async def test_openapi_documents_400_not_422(client):
    schema = (await client.get("/openapi.json")).json()
    create = schema["paths"]["/api/vehicles/"]["post"]["responses"]
    assert "422" not in create and "400" in create
