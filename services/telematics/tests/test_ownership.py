"""Whose vehicle: the vehicle.* projection, the one-time fallback, deleted vehicles."""

import uuid

ROUTES = ("", "samples/", "summary/", "trips/")


async def call(api, token, vehicle, route):
    if route == "":
        return await api.upload(token, vehicle)
    return await api.client.get(f"/api/telematics/{vehicle}/{route}",
                                headers=api.bearer(token))


async def test_another_users_vehicle_is_404_on_every_route(api, vehicles):
    _, owner_token, vehicle = await api.new_owner()
    assert (await api.upload(owner_token, vehicle)).status_code == 202
    intruder = api.token(str(uuid.uuid4()))
    for route in ROUTES:
        response = await call(api, intruder, vehicle, route)
        assert response.status_code == 404, route
        assert response.json() == {"error": "Vehicle not found"}
    assert vehicles.calls == []  # the projection knew: nobody asked the vehicles service


async def test_unknown_vehicle_is_404_on_every_route(api, vehicles):
    token = api.token(str(uuid.uuid4()))
    for route in ROUTES:
        response = await call(api, token, str(uuid.uuid4()), route)
        assert response.status_code == 404 and response.json() == {"error": "Vehicle not found"}
    assert len(vehicles.calls) == len(ROUTES)


async def test_missing_token_is_401(api):
    _, _, vehicle = await api.new_owner()
    response = await api.client.get(f"/api/telematics/{vehicle}/summary/")
    assert response.status_code == 401 and "error" in response.json()


async def test_projection_miss_asks_vehicles_once_then_remembers(api, vehicles):
    user_id, vehicle = str(uuid.uuid4()), str(uuid.uuid4())
    vehicles.owners[vehicle] = user_id  # created while this service was not listening
    token = api.token(user_id)
    assert (await api.upload(token, vehicle)).status_code == 202
    assert vehicles.calls == [f"/api/vehicles/{vehicle}/"]
    vehicles.down = True
    response = await api.upload(token, vehicle, api.samples(api.T0 + 60_000, 2))
    assert response.status_code == 202
    assert (await call(api, token, vehicle, "summary/")).status_code == 200
    assert len(vehicles.calls) == 1


async def test_fallback_404_means_not_yours(api, vehicles):
    vehicle = str(uuid.uuid4())
    vehicles.owners[vehicle] = str(uuid.uuid4())
    response = await api.upload(api.token(str(uuid.uuid4())), vehicle)
    assert response.status_code == 404 and response.json() == {"error": "Vehicle not found"}
    assert await api.count("batches") == 0


async def test_vehicles_down_is_503_only_for_an_unknown_vehicle(api, vehicles):
    _, token, known = await api.new_owner()
    vehicles.down = True
    assert (await api.upload(token, known)).status_code == 202
    response = await api.upload(token, str(uuid.uuid4()))
    assert response.status_code == 503
    assert response.json() == {"error": "Service unavailable: vehicles"}


async def test_deleted_vehicle_is_404_and_stops_accepting_telemetry(api, vehicles):
    user_id, token, vehicle = await api.new_owner()
    assert (await api.upload(token, vehicle)).status_code == 202
    await api.publish_vehicle("deleted", vehicle, user_id)
    vehicles.owners[vehicle] = user_id  # even a stale "200" elsewhere changes nothing
    for route in ROUTES:
        response = await call(api, token, vehicle, route)
        assert response.status_code == 404, route
    later = await api.upload(token, vehicle, api.samples(api.T0 + 99_000, 2))
    assert later.status_code == 404
    assert await api.count() == 3 and vehicles.calls == []


async def test_vehicle_updated_moves_ownership(api):
    old_owner, old_token, vehicle = await api.new_owner()
    new_owner = str(uuid.uuid4())
    await api.publish_vehicle("updated", vehicle, new_owner)
    assert (await api.upload(old_token, vehicle)).status_code == 404
    assert (await api.upload(api.token(new_owner), vehicle)).status_code == 202


async def test_same_vehicle_event_twice_is_applied_once(api):
    from shared.events import Event, get_hub

    user_id, token, vehicle = await api.new_owner()
    hub = get_hub()
    event = Event.new("vehicle.deleted", "vehicles", {"vehicleId": vehicle, "userId": user_id,
                                                      "vin": "X", "dongleId": None})
    hub.route(event)
    hub.route(event)
    await hub.wait_idle()
    assert (await api.upload(token, vehicle)).status_code == 404


async def test_another_users_vehicle_is_404_even_for_a_bad_batch(api, vehicles):
    _, _, vehicle = await api.new_owner()
    intruder = api.token(str(uuid.uuid4()))
    bad = await api.upload(intruder, vehicle, [{"t": "yesterday"}])
    assert bad.status_code == 404 and bad.json() == {"error": "Vehicle not found"}
    long_key = await api.upload(intruder, vehicle, headers={"Idempotency-Key": "k" * 201})
    assert long_key.status_code == 404


async def test_repeat_of_a_batch_for_a_projection_miss_is_found(api, vehicles):
    user_id, vehicle = str(uuid.uuid4()), str(uuid.uuid4())
    vehicles.owners[vehicle] = user_id
    token = api.token(user_id)
    first = await api.upload(token, vehicle)
    again = await api.upload(token, vehicle)
    assert first.status_code == again.status_code == 202
    assert again.json()["batchId"] == first.json()["batchId"]
    assert await api.count("batches") == 1
