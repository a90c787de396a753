"""GET samples (paging), summary and trips over a synthetic drive."""

S = 1000


async def get(api, token, vehicle, route, **params):
    return await api.client.get(f"/api/telematics/{vehicle}/{route}", params=params,
                                headers=api.bearer(token))


async def test_paging_with_a_cursor_walks_every_sample_once_in_order(api):
    _, token, vehicle = await api.new_owner()
    # Two batches whose samples interleave in time, and a duplicated timestamp.
    first = [{"t": api.T0 + 2 * i, "speed": float(i)} for i in range(5)]
    second = [{"t": api.T0 + 2 * i + 1, "rpm": float(i)} for i in range(5)] + [{"t": api.T0}]
    assert (await api.upload(token, vehicle, first)).status_code == 202
    assert (await api.upload(token, vehicle, second)).status_code == 202
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await get(api, token, vehicle, "samples/", **params)).json()
        pages += 1
        seen += page["samples"]
        cursor = page["next"]
        if cursor is None:
            break
    assert pages == 4 and len(seen) == 11
    assert [s["t"] for s in seen] == sorted(s["t"] for s in seen)
    assert sorted(map(str, seen)) == sorted(map(str, first + second))


async def test_from_and_to_are_inclusive(api):
    _, token, vehicle = await api.new_owner()
    await api.upload(token, vehicle, api.samples(api.T0, 10, step_ms=S))
    page = (await get(api, token, vehicle, "samples/", **{"from": api.T0 + 2 * S,
                                                          "to": api.T0 + 5 * S})).json()
    assert [s["t"] for s in page["samples"]] == [api.T0 + k * S for k in (2, 3, 4, 5)]
    assert page["next"] is None


async def test_limit_defaults_to_1000_and_is_capped_at_5000(api):
    _, token, vehicle = await api.new_owner()
    await api.upload(token, vehicle, api.samples(api.T0, 6000, step_ms=1))
    default = (await get(api, token, vehicle, "samples/")).json()
    assert len(default["samples"]) == 1000 and default["next"]
    capped = (await get(api, token, vehicle, "samples/", limit=100_000)).json()
    assert len(capped["samples"]) == 5000 and capped["next"]
    rest = (await get(api, token, vehicle, "samples/", limit=5000,
                      cursor=capped["next"])).json()
    assert len(rest["samples"]) == 1000 and rest["next"] is None
    assert rest["samples"][0]["t"] == api.T0 + 5000


async def test_bad_numbers_and_cursor_are_400(api):
    _, token, vehicle = await api.new_owner()
    for params, field in [({"from": "x"}, "from"), ({"to": "1.5"}, "to"),
                          ({"limit": "ten"}, "limit"), ({"limit": 0}, "limit"),
                          ({"cursor": "not-a-cursor"}, "cursor")]:
        response = await get(api, token, vehicle, "samples/", **params)
        assert response.status_code == 400, params
        assert field in response.json()


def synthetic_drive(t0):
    """Two trips: 10 min at 60 km/h (10 km, 6 L/h), a 5 min stop, 5 min at 36 km/h."""
    samples, odometer = [], 1000.0
    t = t0
    for _ in range(600):  # 600 s at 60 km/h
        samples.append({"t": t, "speed": 60.0, "fuelRate": 6.0, "odometer": round(odometer, 4)})
        odometer += 60.0 / 3600
        t += S
    for _ in range(300):  # 300 s standing, engine idling
        samples.append({"t": t, "speed": 0.0, "fuelRate": 0.0, "odometer": round(odometer, 4)})
        t += S
    for _ in range(300):  # 300 s at 36 km/h
        samples.append({"t": t, "speed": 36.0, "fuelRate": 3.6, "odometer": round(odometer, 4)})
        odometer += 36.0 / 3600
        t += S
    samples.append({"t": t, "speed": 0.0, "fuelRate": 0.0, "odometer": round(odometer, 4)})
    return samples


async def test_summary_and_trips_of_a_synthetic_drive(api):
    _, token, vehicle = await api.new_owner()
    drive = synthetic_drive(api.T0)
    for start in range(0, len(drive), 400):  # uploaded in several batches
        assert (await api.upload(token, vehicle, drive[start:start + 400])).status_code == 202
    trips = (await get(api, token, vehicle, "trips/")).json()
    assert trips == [
        {"startedAt": "2024-01-01T00:00:00Z", "endedAt": "2024-01-01T00:10:00Z",
         "distance": 10.0, "avgSpeed": 60.0, "maxSpeed": 60.0, "fuelUsed": 1.0},
        {"startedAt": "2024-01-01T00:15:00Z", "endedAt": "2024-01-01T00:20:00Z",
         "distance": 3.0, "avgSpeed": 36.0, "maxSpeed": 36.0, "fuelUsed": 0.3},
    ]
    summary = (await get(api, token, vehicle, "summary/")).json()
    assert summary == {
        "vehicleId": vehicle, "lastSeenAt": "2024-01-01T00:20:00Z",
        "odometer": round(1000.0 + 13.0, 4), "sampleCount": 1201, "distance": 13.0,
        "avgSpeed": 52.0, "fuelUsed": 1.3, "activeDtcs": [], "trips": 2}


async def test_summary_of_a_vehicle_without_samples(api):
    _, token, vehicle = await api.new_owner()
    summary = (await get(api, token, vehicle, "summary/")).json()
    assert summary == {"vehicleId": vehicle, "lastSeenAt": None, "odometer": None,
                       "sampleCount": 0, "distance": 0.0, "avgSpeed": 0.0, "fuelUsed": 0.0,
                       "activeDtcs": [], "trips": 0}
    assert (await get(api, token, vehicle, "trips/")).json() == []
