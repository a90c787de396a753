"""POST /api/telematics/{vehicleId}/: accept, validate, dedupe, store whole."""

import asyncio


async def test_accepted_batch_answers_202_with_batch_id_and_count(api):
    _, token, vehicle = await api.new_owner()
    response = await api.upload(token, vehicle, api.samples(api.T0, 5, speed=42.5, fuelRate=2.3,
                                                             odometer=15000.5))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["message"] == "Telemetry batch accepted" and body["accepted"] == 5
    assert isinstance(body["batchId"], str) and body["batchId"]
    assert await api.count() == 5


async def test_same_batch_twice_is_stored_once(api):
    _, token, vehicle = await api.new_owner()
    first = await api.upload(token, vehicle, api.samples(api.T0, 4, speed=1.0))
    again = await api.upload(token, vehicle, api.samples(api.T0, 4, speed=1.0))
    assert first.status_code == again.status_code == 202
    assert again.json()["batchId"] == first.json()["batchId"]
    assert again.json()["accepted"] == 4
    assert await api.count() == 4 and await api.count("batches") == 1


async def test_concurrent_copies_of_a_batch_are_stored_once(api):
    _, token, vehicle = await api.new_owner()
    responses = await asyncio.gather(*[
        api.upload(token, vehicle, api.samples(api.T0, 50, speed=3.0)) for _ in range(5)])
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["batchId"] for r in responses}) == 1
    assert await api.count() == 50


async def test_same_idempotency_key_stores_nothing_twice(api):
    _, token, vehicle = await api.new_owner()
    key = {"Idempotency-Key": "upload-42"}
    first = await api.upload(token, vehicle, api.samples(api.T0, 3), headers=key)
    # A different window, same key: the client is retrying the same upload.
    again = await api.upload(token, vehicle, api.samples(api.T0 + 5000, 3), headers=key)
    assert again.status_code == 202
    assert again.json() == first.json()
    assert await api.count() == 3
    other = await api.upload(token, vehicle, api.samples(api.T0 + 5000, 3),
                             headers={"Idempotency-Key": "upload-43"})
    assert other.json()["batchId"] != first.json()["batchId"]
    assert await api.count() == 6


async def test_one_invalid_sample_stores_nothing_and_is_named(api):
    _, token, vehicle = await api.new_owner()
    sample_list = api.samples(api.T0, 10, speed=10.0)
    sample_list[7]["speed"] = "fast"
    response = await api.upload(token, vehicle, sample_list)
    assert response.status_code == 400
    assert response.json() == {"samples.7.speed": ["A valid number is required."]}
    assert await api.count() == 0 and await api.count("batches") == 0


async def test_each_sample_needs_an_integer_t(api):
    _, token, vehicle = await api.new_owner()
    bad = [{"t": api.T0}, {"speed": 1.0}, {"t": "soon"}, {"t": 1.5}, {"t": True}, "not an object"]
    response = await api.upload(token, vehicle, bad, start=api.T0, end=api.T0)
    assert response.status_code == 400
    assert set(response.json()) == {"samples.1.t", "samples.2.t", "samples.3.t", "samples.4.t",
                                    "samples.5"}
    assert response.json()["samples.1.t"] == ["This field is required."]


async def test_known_numeric_keys_must_be_numbers(api):
    _, token, vehicle = await api.new_owner()
    bad = [{"t": api.T0, "fuelRate": "x", "odometer": [1], "rpm": True, "coolantTemp": {},
            "speed": None}]
    response = await api.upload(token, vehicle, bad)
    assert response.status_code == 400
    assert set(response.json()) == {"samples.0.fuelRate", "samples.0.odometer", "samples.0.rpm",
                                    "samples.0.coolantTemp"}


async def test_each_listed_field_error(api):
    _, token, vehicle = await api.new_owner()
    url, headers = f"/api/telematics/{vehicle}/", api.bearer(token)
    good = {"vehicleId": vehicle, "startTimestamp": api.T0, "endTimestamp": api.T0 + 10,
            "samples": [{"t": api.T0}]}
    cases = [
        ({"vehicleId": "someone-else"}, {"vehicleId"}),
        ({"vehicleId": None}, {"vehicleId"}),
        ({"startTimestamp": "yesterday"}, {"startTimestamp"}),
        ({"endTimestamp": 1.5}, {"endTimestamp"}),
        ({"startTimestamp": api.T0 + 11}, {"startTimestamp", "endTimestamp"}),
        ({"samples": "many"}, {"samples"}),
        ({"samples": None}, {"samples"}),
        ({"dtcList": "P0300"}, {"dtcList"}),
    ]
    for change, fields in cases:
        response = await api.client.post(url, json={**good, **change}, headers=headers)
        assert response.status_code == 400, change
        assert set(response.json()) == fields, (change, response.json())
    missing = await api.client.post(url, json={"samples": []}, headers=headers)
    assert missing.json() == {"vehicleId": ["This field is required."],
                              "startTimestamp": ["This field is required."],
                              "endTimestamp": ["This field is required."]}
    assert (await api.client.post(url, content=b"{nope", headers={
        **headers, "Content-Type": "application/json"})).status_code == 400
    assert (await api.client.post(url, content=b"x", headers={
        **headers, "Content-Type": "text/plain"})).status_code == 415
    assert await api.count("batches") == 0


async def test_more_than_10000_samples_is_refused(api):
    _, token, vehicle = await api.new_owner()
    response = await api.upload(token, vehicle, api.samples(api.T0, 10_001, step_ms=1))
    assert response.status_code == 400
    assert list(response.json()) == ["samples"]
    ok = await api.upload(token, vehicle, api.samples(api.T0, 10_000, step_ms=1))
    assert ok.status_code == 202 and ok.json()["accepted"] == 10_000
    assert await api.count() == 10_000


async def test_body_over_the_limit_is_413(api):
    _, token, vehicle = await api.new_owner()
    response = await api.client.post(
        f"/api/telematics/{vehicle}/", content=b"[" + b" " * (8 * 1024 * 1024) + b"]",
        headers={**api.bearer(token), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"error": "Request body too large"}


async def test_unknown_sample_keys_round_trip(api):
    _, token, vehicle = await api.new_owner()
    sent = [{"t": api.T0, "speed": 12.5, "throttlePos": 33, "gps": {"lat": 1.5, "lng": -2.0},
             "note": "ok"},
            {"t": api.T0 + 1, "rpm": 800, "coolantTemp": 90.5, "fuelRate": 0.8, "odometer": 10.0}]
    assert (await api.upload(token, vehicle, sent)).status_code == 202
    page = (await api.client.get(f"/api/telematics/{vehicle}/samples/",
                                 headers=api.bearer(token))).json()
    assert page == {"samples": sent, "next": None}
